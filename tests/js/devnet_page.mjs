// The live devnet page in a real browser: Debian's chromium, headless, driven by playwright-core
// (package-lock.json; no browser download). Run by tests/tests/e2e/devnet_page.rs against a running
// devnet; talks to it over stdin/stdout:
//
//   stdout  `ok - <check>` / `not ok - <check>: <why>` per check;
//           `ready-for-block`: send an L2 transaction (a new L2 block should follow);
//           `ready-for-tx`: send a transaction through the gateway, then answer on stdin
//   stdin   `tx <hash>`: the transaction the gateway promised.
//
// Env: BASED_PAGE_URL (the page), BASED_CHROMIUM (default /usr/bin/chromium).
// Exits 0 only when every check passed.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const PAGE_URL = process.env.BASED_PAGE_URL;
const CHROMIUM = process.env.BASED_CHROMIUM || "/usr/bin/chromium";
// Without the background-networking flags chromium keeps trying to reach Google services, which
// floods a closed network.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let failures = 0;
const ok = (name) => console.log(`ok - ${name}`);
const notOk = (name, why) => {
  failures += 1;
  console.log(`not ok - ${name}: ${String(why).split("\n")[0]}`);
};

async function check(name, fn) {
  try {
    await fn();
    ok(name);
  } catch (e) {
    notOk(name, e?.message ?? e);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** The next stdin line starting with `prefix`, within `ms`. */
async function command(prefix, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no "${prefix}" on stdin within ${ms} ms`)), ms);
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([stdinLines.next(), timeout]);
      if (done) throw new Error(`stdin closed before "${prefix}"`);
      if (value.startsWith(prefix)) return value.slice(prefix.length).trim();
    }
  } finally {
    clearTimeout(timer);
  }
}

const isInt = (s) => typeof s === "string" && /^\d+$/.test(s);

async function main() {
  assert(PAGE_URL, "BASED_PAGE_URL is not set");
  assert(fs.existsSync(CHROMIUM), `${CHROMIUM} not found (scripts/install-browser.sh installs it)`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "based-page-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 60_000,
  });
  try {
    await run(context);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

async function run(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console error: ${m.text()}`);
  });
  const outside = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(new URL(PAGE_URL).origin) && !r.url().startsWith("data:")) outside.push(r.url());
  });
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations += 1;
  });

  await check("page loads and polls /api/state", async () => {
    const response = await page.goto(PAGE_URL, { waitUntil: "load", timeout: 30_000 });
    assert(response && response.ok(), `GET ${PAGE_URL}: ${response?.status()}`);
    await page.waitForFunction(() => Number(document.body.dataset.polls) >= 1, null, { timeout: 20_000 });
    assert((await page.getAttribute("#conn", "data-state")) === "ok", "not connected");
  });
  // A marker in the page's JavaScript state: it survives only if the page is never reloaded.
  await page.evaluate(() => {
    window.__basedMarker = "still-here";
  });

  await check("L1 head: number, slot and epoch", async () => {
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("l1-number").dataset.number || ""), null, {
      timeout: 20_000,
    });
    const number = await page.getAttribute("#l1-number", "data-number");
    const slot = await page.getAttribute("#l1-slot", "data-slot");
    const epoch = await page.getAttribute("#l1-epoch", "data-epoch");
    const perEpoch = Number(await page.getAttribute("#slots", "data-slots-per-epoch"));
    assert(Number(number) > 0, `L1 head ${number}`);
    assert(isInt(slot) && isInt(epoch), `slot ${slot}, epoch ${epoch}`);
    assert(Math.floor(Number(slot) / perEpoch) === Number(epoch), `slot ${slot} is not in epoch ${epoch}`);
  });

  await check("slots of two epochs with proposer, opt-in status and preconfer", async () => {
    // The devnet (opt-in mode): in each epoch one proposer is opted in with the gateway's
    // committer; its slots are the gateway's, others are open.
    await page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll("#slots tbody tr[data-slot]")];
        return (
          rows.some((r) => r.dataset.optedIn === "true") &&
          rows.some((r) => r.dataset.rights === "ours") &&
          rows.some((r) => r.dataset.rights === "open")
        );
      },
      null,
      { timeout: 30_000 },
    );
    const rows = await page.$$eval("#slots tbody tr[data-slot]", (rs) =>
      rs.map((r) => ({ ...r.dataset, text: r.textContent })),
    );
    const perEpoch = Number(await page.getAttribute("#slots", "data-slots-per-epoch"));
    assert(rows.length === 2 * perEpoch, `${rows.length} slot rows, expected ${2 * perEpoch}`);
    const epochs = new Set(rows.map((r) => r.epoch));
    assert(epochs.size === 2, `epochs ${[...epochs]}`);
    for (const r of rows) {
      assert(isInt(r.slot), `slot ${r.slot}`);
      assert(isInt(r.proposer), `slot ${r.slot}: proposer ${r.proposer}`);
      assert(r.optedIn === "true" || r.optedIn === "false", `slot ${r.slot}: optedIn ${r.optedIn}`);
      assert(["ours", "other", "open"].includes(r.rights), `slot ${r.slot}: rights ${r.rights}`);
      assert(r.text.includes(`validator ${r.proposer}`), `slot ${r.slot} shows ${r.text}`);
    }
    const committer = (await page.textContent("#committer")).trim().toLowerCase();
    const opted = rows.filter((r) => r.optedIn === "true");
    assert(opted.length >= 1 && opted.length < rows.length, `${opted.length} opted-in slots`);
    assert(
      opted.every((r) => r.committer.toLowerCase() === committer),
      `opted-in proposers' committer is not ${committer}`,
    );
    assert(
      rows.filter((r) => r.rights === "ours").every((r) => r.preconfer.toLowerCase() === committer),
      "an `ours` slot names another preconfer",
    );
  });

  await check("current preconfer", async () => {
    await page.waitForFunction(() => isFinite(parseInt(document.getElementById("preconfer").dataset.slot)), null, {
      timeout: 10_000,
    });
    const p = await page.$eval("#preconfer", (e) => ({ ...e.dataset, text: e.textContent }));
    const current = await page.getAttribute("#current-slot", "data-slot");
    assert(["ours", "other", "open"].includes(p.rights), `rights ${p.rights}`);
    assert(Math.abs(Number(p.slot) - Number(current)) <= 1, `preconfer of slot ${p.slot}, clock slot ${current}`);
    assert(isInt(p.proposer), `proposer ${p.proposer}`);
    assert(p.text.includes(`slot ${p.slot}`), p.text);
    if (p.rights === "ours") {
      const committer = (await page.textContent("#committer")).trim().toLowerCase();
      assert(p.committer.toLowerCase() === committer, `committer ${p.committer}`);
    }
  });

  await check("sync status", async () => {
    await page.waitForFunction(() => document.getElementById("sync-status").dataset.state === "running", null, {
      timeout: 20_000,
    });
    const head = await page.getAttribute("#l2-head", "data-number");
    const l1Head = await page.getAttribute("#sync-l1-head", "data-value");
    const processed = await page.getAttribute("#sync-l1-processed", "data-value");
    assert(isInt(head) && isInt(l1Head) && isInt(processed), `l2 ${head}, l1 ${l1Head}, processed ${processed}`);
    assert(Number(l1Head) > 0, `L1 head ${l1Head}`);
  });

  await check("L2 blocks listed with hash, tx count and gas", async () => {
    await page.waitForSelector("#l2-blocks tbody tr[data-block]", { timeout: 10_000 });
    const rows = await page.$$eval("#l2-blocks tbody tr[data-block]", (rs) => rs.map((r) => ({ ...r.dataset })));
    const head = await page.getAttribute("#l2-head", "data-number");
    assert(rows.length >= 1 && rows.length <= 10, `${rows.length} block rows`);
    assert(rows[0].block === head, `first row ${rows[0].block}, head ${head}`);
    for (const r of rows) {
      assert(/^0x[0-9a-f]{64}$/.test(r.hash), `block ${r.block}: hash ${r.hash}`);
      assert(isInt(r.txs) && isInt(r.gasUsed), `block ${r.block}: txs ${r.txs}, gas ${r.gasUsed}`);
    }
  });

  // A new L2 block, with its L1 origin, appears without reloading.
  const headBefore = Number(await page.getAttribute("#l2-head", "data-number"));
  const pollsBefore = Number(await page.getAttribute("body", "data-polls"));
  console.log("ready-for-block");
  await check("a new L2 block with its L1 origin appears without a reload", async () => {
    await page.waitForFunction(
      (before) => {
        const row = document.querySelector("#l2-blocks tbody tr[data-block]");
        return row && Number(row.dataset.block) > before && /^\d+$/.test(row.dataset.l1Origin || "");
      },
      headBefore,
      { timeout: 90_000 },
    );
    const row = await page.$eval("#l2-blocks tbody tr[data-block]", (r) => ({ ...r.dataset, text: r.textContent }));
    assert(Number(row.txs) >= 1, `block ${row.block} has ${row.txs} transactions`);
    assert(Number(row.gasUsed) >= 21000, `block ${row.block} used ${row.gasUsed} gas`);
    assert(Number(row.l1Origin) > 0 && row.text.includes(`L1 block ${row.l1Origin}`), `origin ${row.l1Origin}: ${row.text}`);
    assert(isInt(row.proposal), `proposal ${row.proposal}`);
    assert(Number(await page.getAttribute("#l2-head", "data-number")) > headBefore, "#l2-head did not move");
    assert(Number(await page.getAttribute("body", "data-polls")) > pollsBefore, "no poll since");
    assert((await page.evaluate(() => window.__basedMarker)) === "still-here", "the page was reloaded");
    assert(navigations === 1, `${navigations} navigations`);
  });

  console.log("ready-for-tx");
  await check("a promise signed by the gateway is listed with its latency", async () => {
    const hash = (await command("tx ", 60_000)).toLowerCase();
    assert(/^0x[0-9a-f]{64}$/.test(hash), `bad hash ${hash}`);
    const row = `#commitments tbody tr[data-tx="${hash}"]`;
    await page.waitForSelector(row, { timeout: 20_000 });
    const c = await page.$eval(row, (r) => ({ ...r.dataset, text: r.textContent }));
    const latencyUs = Number(c.latencyUs);
    assert(latencyUs > 0 && latencyUs < 30_000_000, `latency ${c.latencyUs} µs`);
    assert(Number(c.signedMs) >= Number(c.receivedMs), `received ${c.receivedMs}, signed ${c.signedMs}`);
    assert(isInt(c.slot), `slot ${c.slot}`);
    assert(c.text.includes((latencyUs / 1000).toFixed(1) + " ms"), `latency not shown: ${c.text}`);
    assert(await page.isHidden("#no-commitments"), "the empty note is still shown");
    // The promise is kept: its transaction lands in an L2 block the page lists.
    await page.waitForFunction((sel) => /^\d+$/.test(document.querySelector(sel)?.dataset.l2Block || ""), row, {
      timeout: 90_000,
    });
    const block = await page.getAttribute(row, "data-l2-block");
    assert((await page.textContent(row)).includes(`block ${block}`), `landed block ${block} not shown`);
  });

  await check("no page errors, no request outside the page's origin, never reloaded", async () => {
    assert(pageErrors.length === 0, pageErrors.join("; "));
    assert(outside.length === 0, `requests to ${outside.join(", ")}`);
    assert((await page.evaluate(() => window.__basedMarker)) === "still-here", "the page was reloaded");
    assert(navigations === 1, `${navigations} navigations`);
  });
}

try {
  await main();
} catch (e) {
  notOk("browser session", e?.stack ?? e);
}
console.log(failures === 0 ? "# all checks passed" : `# ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
