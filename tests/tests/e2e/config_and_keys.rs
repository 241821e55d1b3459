//! Config files and private keys, through the real `based` binary.
//!
//! - `based config example <service>` prints a config file with every flag of the service, which
//!   the service accepts back; precedence is flags > environment > file > defaults.
//! - A config file with an unknown key, a value of the wrong type or an invalid value, or a
//!   private key, stops the service at start with an error naming the file and the key.
//! - A private key given as a flag value (`--proposer.key <hex>`) is refused, without echoing it.
//! - The complete logs (stdout and stderr, debug level) of `based devnet` and of two proposers, one
//!   with an encrypted keystore and one with `BASED_PROPOSER_KEY`, hold no private key.

use based_devnet::{DEV_KEYS, devnet_committer};
use based_tests::{based_bin, eyre};
use std::{
    collections::BTreeSet,
    fs::File,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

const SERVICES: [&str; 4] = ["node", "proposer", "gateway", "devnet"];

/// `based <args>` with a clean environment plus `env`; killed if it runs longer than `timeout`.
fn based(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> eyre::Result<Output> {
    let dir = tempfile::tempdir()?;
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = Command::new(based_bin()?);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(File::create(&out)?)
        .stderr(File::create(&err)?);
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            eyre::bail!("`based {}` still running after {timeout:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output { status, stdout: std::fs::read(out)?, stderr: std::fs::read(err)? })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const QUICK: Duration = Duration::from_secs(30);

/// `(table, key)` of every flag `based <service> --help` lists, except `--help` and `--config`.
fn help_keys(service: &str) -> eyre::Result<BTreeSet<(String, String)>> {
    let out = based(&[service, "--help"], &[("COLUMNS", "300")], QUICK)?;
    eyre::ensure!(out.status.success(), "{service} --help: {}", text(&out.stderr));
    let mut keys = BTreeSet::new();
    for line in text(&out.stdout).lines() {
        let line = line.trim_start();
        let line = line.strip_prefix("-h, ").unwrap_or(line);
        let Some(flag) = line.strip_prefix("--") else { continue };
        let name: String = flag.chars().take_while(|c| !c.is_whitespace()).collect();
        if name == "help" || name == "config" || name == "version" {
            continue;
        }
        let (table, key) = name.split_once('.').unwrap_or(("", &name));
        keys.insert((table.to_string(), key.to_string()));
    }
    Ok(keys)
}

/// `(table, key, value)` of a config file's `key = value` lines; commented-out keys with
/// `commented`.
fn file_entries(config: &str, commented: bool) -> Vec<(String, String, String)> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in config.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = name.to_string();
            continue;
        }
        let line = match line.strip_prefix("# ") {
            Some(rest) if commented => rest,
            Some(_) => continue,
            None if commented => continue,
            None => line,
        };
        if let Some((key, value)) = line.split_once(" = ")
            && !key.contains(' ')
            && !key.is_empty()
        {
            out.push((table.clone(), key.to_string(), value.trim().to_string()));
        }
    }
    out
}

#[test]
fn every_example_config_is_complete_and_accepted() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let dir = tempfile::tempdir()?;
    for service in SERVICES {
        let out = based(&["config", "example", service], &[], QUICK)?;
        eyre::ensure!(out.status.success(), "config example {service}: {}", text(&out.stderr));
        let example = text(&out.stdout);
        let set = file_entries(&example, false);
        let unset = file_entries(&example, true);
        eyre::ensure!(set.len() > 3, "{service}: only {} keys set:\n{example}", set.len());

        // Every flag of the service is a key of the example, set or commented out.
        let in_file: BTreeSet<(String, String)> =
            set.iter().chain(&unset).map(|(t, k, _)| (t.clone(), k.clone())).collect();
        let flags = help_keys(service)?;
        eyre::ensure!(flags.len() >= in_file.len() && !flags.is_empty(), "{service}: {flags:?}");
        let missing: Vec<_> = flags.difference(&in_file).collect();
        eyre::ensure!(missing.is_empty(), "{service}: flags missing from the example: {missing:?}");
        let extra: Vec<_> = in_file.difference(&flags).collect();
        eyre::ensure!(extra.is_empty(), "{service}: example keys that are no flags: {extra:?}");

        // The service reads it back: every key it sets is in effect, from the file.
        let path = dir.path().join(format!("{service}.toml"));
        std::fs::write(&path, &example)?;
        let path = path.to_string_lossy().into_owned();
        // The gateway's one required flag without a default, from the environment.
        let out = based(
            &["config", "show", service, "--config", &path],
            &[("BASED_L1_GENESIS_TIME", "1700000000")],
            QUICK,
        )?;
        eyre::ensure!(out.status.success(), "config show {service}: {}", text(&out.stderr));
        let shown = text(&out.stdout);
        for (table, key, value) in &set {
            let section = shown
                .split(&format!("\n[{table}]\n"))
                .nth(usize::from(!table.is_empty()))
                .unwrap_or_default();
            let section = section.split("\n[").next().unwrap_or_default();
            let want = format!("{key} = {value}  # config file");
            eyre::ensure!(
                section.lines().any(|l| l == want),
                "{service}: `{want}` not in [{table}] of:\n{shown}"
            );
        }
    }
    Ok(())
}

#[test]
fn flags_override_environment_override_file_override_defaults() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("proposer.toml");
    std::fs::write(
        &path,
        "chain = \"devnet\"\n\
         [l1]\nrpc-url = \"http://file:1\"\npoll-interval-ms = 700\n\
         [proposer]\nmax-blobs = 3\n",
    )?;
    let path = path.to_string_lossy().into_owned();
    let out = based(
        &["config", "show", "proposer", "--config", &path, "--l1.rpc-url", "http://flag:3"],
        &[("BASED_L1_RPC_URL", "http://env:2"), ("BASED_L1_POLL_INTERVAL_MS", "800")],
        QUICK,
    )?;
    eyre::ensure!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for want in [
        "rpc-url = \"http://flag:3\"  # command line",
        "poll-interval-ms = 800  # environment",
        "max-blobs = 3  # config file",
        "chain = \"devnet\"  # config file",
        "addr = \"127.0.0.1:8547\"  # default",
    ] {
        eyre::ensure!(shown.lines().any(|l| l == want), "`{want}` not in:\n{shown}");
    }
    Ok(())
}

#[test]
fn bad_config_files_stop_the_services_at_start_naming_the_key() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let dir = tempfile::tempdir()?;
    let key = DEV_KEYS[9].trim_start_matches("0x");
    let cases: [(&str, String, &str); 8] = [
        ("proposer", "[l1]\nrpc-urll = \"http://x:1\"\n".into(), "unknown key `l1.rpc-urll`"),
        ("proposer", "[l1]\ninbox-address = \"0x1234\"\n".into(), "unknown key `l1.inbox-address`"),
        ("proposer", "[proposer]\nmax-blobs = \"six\"\n".into(), "key `proposer.max-blobs`"),
        ("proposer", format!("[proposer]\nkey = \"0x{key}\"\n"), "key `proposer.key`"),
        ("node", "[http]\nport = 70000\n".into(), "key `http.port`"),
        ("node", "[db]\ntrie-cache = 1\n".into(), "unknown key `db.trie-cache`"),
        ("gateway", "[l1]\ngenesis-time = -1\n".into(), "key `l1.genesis-time`"),
        ("devnet", "[sequencing]\nmode = \"sometimes\"\n".into(), "key `sequencing.mode`"),
    ];
    for (i, (service, config, expect)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&path, config)?;
        let path_str = path.to_string_lossy().into_owned();
        // Everything else the service needs is given (free ports, a scratch datadir): only the
        // file can stop it.
        let datadir = dir.path().join(format!("data-{i}")).to_string_lossy().into_owned();
        let mut args = vec![*service, "--config", &path_str];
        match *service {
            "node" => args.extend(["--http.port=0", "--datadir", &datadir]),
            "proposer" => args.push("--http.addr=127.0.0.1:0"),
            "gateway" => args.extend(["--http.addr=127.0.0.1:0", "--datadir", &datadir]),
            _ => args.extend([
                "--l1.port=0",
                "--http.port=0",
                "--proposer.port=0",
                "--gateway.port=0",
                "--beacon.port=0",
                "--page.addr=127.0.0.1:0",
                "--datadir",
                &datadir,
            ]),
        }
        let out = based(
            &args,
            &[("BASED_PROPOSER_KEY", DEV_KEYS[9]), ("BASED_COMMITTER_KEY", DEV_KEYS[8])],
            QUICK,
        )?;
        let stderr = text(&out.stderr);
        eyre::ensure!(!out.status.success(), "{service} accepted {config:?}");
        eyre::ensure!(
            stderr.contains(expect) && stderr.contains(&path_str),
            "{service} with {config:?}: error does not name the key and file: {stderr}"
        );
        eyre::ensure!(!stderr.contains(key), "{service}: the error echoes a private key: {stderr}");
    }
    Ok(())
}

#[test]
fn private_keys_as_flag_values_are_refused() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let key = DEV_KEYS[9];
    let bare = key.trim_start_matches("0x");
    let cases: [(Vec<String>, &str); 5] = [
        (vec!["proposer".into(), "--proposer.key".into(), key.into()], "BASED_PROPOSER_KEY"),
        (vec!["proposer".into(), format!("--proposer.key={bare}")], "--proposer.keystore"),
        (vec!["gateway".into(), "--committer.key".into(), key.into()], "BASED_COMMITTER_KEY"),
        (vec!["gateway".into(), "--private-key".into(), key.into()], "--committer.password-file"),
        (
            vec!["validator".into(), "status".into(), "--owner.key".into(), key.into()],
            "BASED_OWNER_KEY",
        ),
    ];
    for (args, expect) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = based(&args, &[], QUICK)?;
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        eyre::ensure!(!out.status.success(), "{args:?} was accepted");
        eyre::ensure!(
            all.contains("private key on the command line") && all.contains(expect),
            "{args:?}: {all}"
        );
        eyre::ensure!(!all.contains(bare), "{args:?}: the refusal echoes the key: {all}");
    }
    Ok(())
}

/// A child process whose stdout and stderr go to files; interrupted (SIGINT, like Ctrl-C) and
/// reaped on drop.
struct Logged {
    child: Child,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
}

impl Logged {
    fn spawn(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> eyre::Result<Self> {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = Command::new(based_bin()?)
            .args(args)
            .env("RUST_LOG", "debug")
            .env_remove("BASED_PROPOSER_KEY")
            .env_remove("BASED_COMMITTER_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout)?)
            .stderr(File::create(&stderr)?)
            .spawn()?;
        Ok(Self { child, stdout, stderr })
    }

    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read(p).map(|b| text(&b)).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// Waits until the logs contain `needle`; fails if the process exits first.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> eyre::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return Ok(logs);
            }
            if let Some(status) = self.child.try_wait()? {
                eyre::bail!("exited ({status}) before printing {needle:?}:\n{logs}");
            }
            eyre::ensure!(Instant::now() < deadline, "no {needle:?} within {timeout:?}:\n{logs}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C, then the complete logs once it exited (killed if it does not within 30 s).
    fn stop(mut self) -> eyre::Result<String> {
        self.interrupt();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(self.logs())
    }

    fn interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.interrupt();
            std::thread::sleep(Duration::from_secs(2));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The value after `label` on its banner line.
fn banner_value(banner: &str, label: &str) -> eyre::Result<String> {
    banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .ok_or_else(|| eyre::eyre!("no {label:?} line in:\n{banner}"))
}

#[test]
fn no_private_key_in_the_logs_of_a_devnet_and_its_proposers() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let dir = tempfile::tempdir()?;
    let datadir = dir.path().join("devnet");
    let datadir_str = datadir.to_string_lossy().into_owned();
    let mut devnet = Logged::spawn(
        dir.path(),
        "devnet",
        &[
            "devnet",
            "--l1.port=0",
            "--http.port=0",
            "--proposer.port=0",
            "--gateway.port=0",
            "--beacon.port=0",
            "--page.addr=127.0.0.1:0",
            "--l1.block-time=1",
            "--datadir",
            &datadir_str,
        ],
        &[],
    )?;
    let banner = devnet.wait_for("Ctrl-C stops everything", Duration::from_secs(180))?;
    let l1 = banner_value(&banner, "L1 RPC (anvil, chain id 31337):")?;
    let inbox = banner_value(&banner, "L1 Inbox:")?;
    let l2 = banner_value(&banner, "L2 RPC (based node):")?;

    // The keys are still available to the developer, in a file.
    let keys_file = std::fs::read_to_string(datadir.join("dev-keys.txt"))?;
    for key in DEV_KEYS {
        eyre::ensure!(keys_file.contains(key), "dev-keys.txt lacks {key}");
    }

    // A proposer with its key in an encrypted keystore, one with it in the environment.
    let keystore_key = DEV_KEYS[5];
    let signer: alloy_signer_local::PrivateKeySigner = keystore_key.parse()?;
    let json = based_keystore::encrypt_ecdsa_keystore(signer.to_bytes().as_slice(), "pw", 10)?;
    let keystore = dir.path().join("proposer.json");
    let password = dir.path().join("proposer.pw");
    std::fs::write(&keystore, json)?;
    std::fs::write(&password, "pw\n")?;
    // The devnet's chain spec names its Inbox (the proposer has no Inbox flag).
    let chain_spec = datadir.join("chain-spec.json").to_string_lossy().into_owned();
    let spec_text = std::fs::read_to_string(&chain_spec)?.to_lowercase();
    eyre::ensure!(
        spec_text.contains(&inbox.to_lowercase()),
        "the chain spec lacks the Inbox {inbox}"
    );
    let common = ["--l1.rpc-url", &l1, "--chain", &chain_spec, "--l2.rpc-url", &l2];
    let mut from_keystore = Logged::spawn(
        dir.path(),
        "proposer-keystore",
        &[
            &["proposer", "--http.addr=127.0.0.1:0"][..],
            &common[..],
            &[
                "--proposer.keystore",
                &keystore.to_string_lossy(),
                "--proposer.password-file",
                &password.to_string_lossy(),
            ][..],
        ]
        .concat(),
        &[],
    )?;
    let env_key = DEV_KEYS[6];
    let mut from_env = Logged::spawn(
        dir.path(),
        "proposer-env",
        &[&["proposer", "--http.addr=127.0.0.1:0"][..], &common[..]].concat(),
        &[("BASED_PROPOSER_KEY", env_key)],
    )?;
    for (proposer, key) in [(&mut from_keystore, keystore_key), (&mut from_env, env_key)] {
        let address = key.parse::<alloy_signer_local::PrivateKeySigner>()?.address();
        let logs = proposer.wait_for("proposer listening", Duration::from_secs(60))?;
        eyre::ensure!(
            logs.contains("proposer key loaded") && logs.contains(&address.to_string()),
            "the proposer did not load the key of {address}:\n{logs}"
        );
    }
    // Let everything run (L1 blocks, derivation, lookahead, proposer polls) before stopping.
    std::thread::sleep(Duration::from_secs(5));

    let mut secrets: Vec<String> = DEV_KEYS.iter().map(|k| k.to_string()).collect();
    secrets.push(format!("0x{}", alloy_primitives::hex::encode(devnet_committer().to_bytes())));
    let logs = [
        ("based devnet", devnet.stop()?),
        ("based proposer (keystore)", from_keystore.stop()?),
        ("based proposer (env)", from_env.stop()?),
    ];
    for (name, log) in &logs {
        eyre::ensure!(log.lines().count() > 5, "{name}: almost no logs:\n{log}");
        let lower = log.to_ascii_lowercase();
        for secret in &secrets {
            let bare = secret.trim_start_matches("0x").to_ascii_lowercase();
            eyre::ensure!(!lower.contains(&bare), "{name}'s logs contain the private key {secret}");
        }
    }
    eyre::ensure!(logs[0].1.contains("based devnet is running"), "no banner");
    Ok(())
}
