#!/usr/bin/env node
// Client compatibility suite: drives a based L2 node with ethers v6 and viem the way a dapp does
// (transfers, a contract deployment, event subscriptions through filters, logs, revert reasons,
// gas and fee estimation, EIP-1186 proofs). Prints one line per check and exits non-zero if any
// check fails.
//
// Usage: BASED_L2_RPC_URL=http://127.0.0.1:8546 BASED_COMPAT_KEY=0x<funded dev key> node tests/js/compat.mjs
// (tests/tests/e2e/client_compat.rs runs it against an in-process devnet.) Packages: the pinned
// ethers and viem in the repository's package-lock.json (`make tools`).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ethers } from 'ethers';
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  keccak256,
  parseAbi,
  BaseError,
  ContractFunctionRevertedError,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const here = dirname(fileURLToPath(import.meta.url));
const url = process.env.BASED_L2_RPC_URL;
const key = process.env.BASED_COMPAT_KEY;
if (!url || !key) {
  console.error('set BASED_L2_RPC_URL and BASED_COMPAT_KEY');
  process.exit(2);
}
const EVENT_WAIT_MS = Number(process.env.BASED_COMPAT_EVENT_WAIT_MS ?? 30_000);

let failures = 0;
const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    const detail = await fn();
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''} [${Date.now() - started} ms]`);
    results.push(name);
  } catch (err) {
    failures += 1;
    console.log(`not ok - ${name}: ${err?.shortMessage ?? err?.message ?? err}`);
    if (process.env.BASED_COMPAT_VERBOSE) console.log(err);
  }
}

/** Resolves with the first value `subscribe(resolve)` delivers, or rejects after `ms`. */
function within(ms, what, subscribe) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    subscribe((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

function compile() {
  const require = createRequire(import.meta.url);
  const solc = require(join(here, '..', '..', 'node_modules', 'solc'));
  const input = {
    language: 'Solidity',
    sources: { 'Emitter.sol': { content: readFileSync(join(here, 'Emitter.sol'), 'utf8') } },
    settings: {
      evmVersion: 'prague',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts['Emitter.sol'].Emitter;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

const { abi, bytecode } = compile();
const recipient = ethers.Wallet.createRandom().address;

// ---------------------------------------------------------------- ethers v6
const provider = new ethers.JsonRpcProvider(url, undefined, { pollingInterval: 250 });
provider.pollingInterval = 250;
const wallet = new ethers.Wallet(key, provider);
let chainId;
let emitter; // ethers Contract
let emitterAddress;

await check('ethers: network and head', async () => {
  const net = await provider.getNetwork();
  chainId = net.chainId;
  const head = await provider.getBlockNumber();
  assert.ok(head >= 0);
  return `chain ${chainId}, head ${head}`;
});

await check('ethers: getFeeData', async () => {
  const fee = await provider.getFeeData();
  assert.ok(fee.gasPrice > 0n, 'gasPrice');
  assert.ok(fee.maxFeePerGas > 0n, 'maxFeePerGas');
  assert.ok(fee.maxPriorityFeePerGas > 0n, 'maxPriorityFeePerGas');
  assert.ok(fee.maxFeePerGas >= fee.maxPriorityFeePerGas);
  return `maxFee ${fee.maxFeePerGas}, tip ${fee.maxPriorityFeePerGas}`;
});

await check('ethers: estimateGas of a transfer', async () => {
  const gas = await wallet.estimateGas({ to: recipient, value: 1n });
  assert.equal(gas, 21000n);
});

await check('ethers: send a transfer and wait for it', async () => {
  const value = ethers.parseEther('0.01');
  const tx = await wallet.sendTransaction({ to: recipient, value });
  const receipt = await tx.wait(1, 60_000);
  assert.equal(receipt.status, 1);
  assert.equal(receipt.hash, tx.hash);
  assert.equal(await provider.getBalance(recipient), value);
  const fetched = await provider.getTransaction(tx.hash);
  assert.equal(fetched.blockNumber, receipt.blockNumber);
  return `block ${receipt.blockNumber}`;
});

await check('ethers: deploy a contract', async () => {
  const factory = new ethers.ContractFactory(abi, bytecode, wallet);
  const contract = await factory.deploy();
  await contract.waitForDeployment();
  emitterAddress = await contract.getAddress();
  emitter = contract;
  const code = await provider.getCode(emitterAddress);
  assert.ok(code.length > 2, 'no code');
  assert.equal(await emitter.count(), 0n);
  return emitterAddress;
});

await check('ethers: estimateGas of a contract call', async () => {
  const gas = await emitter.ping.estimateGas('estimate');
  assert.ok(gas > 21000n && gas < 200000n, `gas ${gas}`);
  return `${gas}`;
});

await check('ethers: revert reason of a reverting call', async () => {
  assert.equal(await emitter.check(3), 6n);
  await assert.rejects(emitter.check.staticCall(11), (err) => {
    assert.equal(err.code, 'CALL_EXCEPTION');
    assert.equal(err.reason, 'x too large');
    return true;
  });
  await assert.rejects(emitter.check.estimateGas(11), (err) => {
    assert.equal(err.reason, 'x too large');
    return true;
  });
});

await check('ethers: contract.on(event) (eth_newFilter / eth_getFilterChanges)', async () => {
  const seen = within(EVENT_WAIT_MS, 'the Ping event', (done) => {
    emitter.on('Ping', (from, n, note, event) => done({ from, n, note, event }));
  });
  // Let the subscription install its filter before the transaction lands.
  await new Promise((r) => setTimeout(r, 1000));
  const tx = await emitter.ping('from ethers');
  await tx.wait(1, 60_000);
  const { from, n, note, event } = await seen;
  await emitter.removeAllListeners();
  assert.equal(from, wallet.address);
  assert.equal(n, 1n);
  assert.equal(note, 'from ethers');
  assert.equal(event.log.transactionHash, tx.hash);
  return `block ${event.log.blockNumber}`;
});

await check('ethers: getLogs (queryFilter)', async () => {
  const events = await emitter.queryFilter(emitter.filters.Ping(wallet.address), 0, 'latest');
  assert.equal(events.length, 1);
  assert.equal(events[0].args.note, 'from ethers');
  const logs = await provider.getLogs({ address: emitterAddress, fromBlock: 0, toBlock: 'latest' });
  assert.equal(logs.length, 1);
});

provider.destroy();

// ---------------------------------------------------------------- viem
const chain = defineChain({
  id: Number(chainId),
  name: 'based-l2',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [url] } },
});
const account = privateKeyToAccount(key);
const transport = http(url, { batch: true });
const client = createPublicClient({ chain, transport, pollingInterval: 250 });
const walletClient = createWalletClient({ account, chain, transport, pollingInterval: 250 });
const viemAbi = parseAbi([
  'event Ping(address indexed from, uint256 indexed n, string note)',
  'function ping(string note)',
  'function count() view returns (uint256)',
  'function check(uint256 x) pure returns (uint256)',
]);

await check('viem: chain id and head', async () => {
  assert.equal(await client.getChainId(), Number(chainId));
  const n = await client.getBlockNumber();
  return `head ${n}`;
});

await check('viem: estimateFeesPerGas and getGasPrice', async () => {
  const fees = await client.estimateFeesPerGas();
  assert.ok(fees.maxFeePerGas > 0n && fees.maxPriorityFeePerGas > 0n);
  assert.ok(fees.maxFeePerGas >= fees.maxPriorityFeePerGas);
  assert.ok((await client.getGasPrice()) > 0n);
  const history = await client.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
  assert.equal(history.reward.length, history.gasUsedRatio.length);
  return `maxFee ${fees.maxFeePerGas}`;
});

await check('viem: estimateGas', async () => {
  assert.equal(await client.estimateGas({ account, to: recipient, value: 1n }), 21000n);
  const gas = await client.estimateContractGas({
    account, address: emitterAddress, abi: viemAbi, functionName: 'ping', args: ['x'],
  });
  assert.ok(gas > 21000n, `gas ${gas}`);
});

await check('viem: revert reason of a reverting call', async () => {
  assert.equal(
    await client.readContract({ address: emitterAddress, abi: viemAbi, functionName: 'check', args: [4n] }),
    8n,
  );
  try {
    await client.simulateContract({
      account, address: emitterAddress, abi: viemAbi, functionName: 'check', args: [12n],
    });
    assert.fail('did not revert');
  } catch (err) {
    assert.ok(err instanceof BaseError, `${err}`);
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    assert.ok(revert, `no ContractFunctionRevertedError in ${err.shortMessage}`);
    assert.equal(revert.reason, 'x too large');
  }
});

await check('viem: createBlockFilter, watchBlocks, watchContractEvent with a sent transaction', async () => {
  const blockFilter = await client.createBlockFilter();
  const head = await client.getBlockNumber();
  const newBlock = within(EVENT_WAIT_MS, 'a block from watchBlocks', (done) => {
    const unwatch = client.watchBlocks({
      onBlock: (block) => {
        if (block.number > head) {
          unwatch();
          done(block);
        }
      },
      onError: () => {},
    });
  });
  const ping = within(EVENT_WAIT_MS, 'the Ping event from watchContractEvent', (done) => {
    const unwatch = client.watchContractEvent({
      address: emitterAddress,
      abi: viemAbi,
      eventName: 'Ping',
      onLogs: (logs) => {
        unwatch();
        done(logs);
      },
      onError: () => {},
    });
  });
  await new Promise((r) => setTimeout(r, 1000));
  const hash = await walletClient.writeContract({
    address: emitterAddress, abi: viemAbi, functionName: 'ping', args: ['from viem'],
  });
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: 60_000 });
  assert.equal(receipt.status, 'success');
  const logs = await ping;
  assert.equal(logs.length, 1);
  assert.equal(logs[0].args.note, 'from viem');
  assert.equal(logs[0].args.n, 2n);
  assert.equal(logs[0].transactionHash, hash);
  const block = await newBlock;
  const hashes = await client.getFilterChanges({ filter: blockFilter });
  assert.ok(hashes.length >= 1, 'block filter saw no block');
  assert.ok(hashes.includes(receipt.blockHash), 'block filter missed the receipt block');
  assert.ok(await client.uninstallFilter({ filter: blockFilter }));
  return `watchBlocks saw ${block.number}, block filter ${hashes.length} hashes`;
});

await check('viem: sendTransaction and waitForTransactionReceipt', async () => {
  const before = await client.getBalance({ address: recipient });
  const hash = await walletClient.sendTransaction({ to: recipient, value: 5n });
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: 60_000 });
  assert.equal(receipt.status, 'success');
  assert.equal(await client.getBalance({ address: recipient }), before + 5n);
});

await check('viem: getLogs and getContractEvents', async () => {
  const events = await client.getContractEvents({
    address: emitterAddress, abi: viemAbi, eventName: 'Ping', fromBlock: 0n,
  });
  assert.deepEqual(events.map((e) => e.args.note), ['from ethers', 'from viem']);
  const logs = await client.getLogs({
    address: emitterAddress,
    event: viemAbi[0],
    args: { n: 2n },
    fromBlock: 0n,
  });
  assert.equal(logs.length, 1);
  assert.equal(logs[0].args.note, 'from viem');
  assert.equal(
    await client.readContract({ address: emitterAddress, abi: viemAbi, functionName: 'count' }),
    2n,
  );
});

await check('viem: getProof (eth_getProof)', async () => {
  const block = await client.getBlock();
  const slot0 = `0x${'0'.repeat(64)}`;
  const proof = await client.getProof({
    address: emitterAddress, storageKeys: [slot0], blockNumber: block.number,
  });
  assert.equal(proof.address.toLowerCase(), emitterAddress.toLowerCase());
  assert.equal(proof.storageProof.length, 1);
  assert.equal(proof.storageProof[0].value, 2n);
  // The proofs start at the roots they claim: the block's state root and the account's storage root.
  assert.equal(keccak256(proof.accountProof[0]), block.stateRoot);
  assert.equal(keccak256(proof.storageProof[0].proof[0]), proof.storageHash);
  assert.ok(proof.nonce >= 1);
});

console.log(`${results.length} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
