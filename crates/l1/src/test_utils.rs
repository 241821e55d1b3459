//! Test helpers (feature `test-utils`): locate, start and stop a local anvil.
//!
//! Anvil is found in this order:
//! 1. `$BASED_ANVIL` (path to an anvil binary),
//! 2. `<repo>/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil` (installed by `make tools`,
//!    pinned in `package-lock.json`), searched upwards from this crate's directory,
//! 3. `anvil` on `PATH`.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// Relative path of the anvil binary inside the repo (npm package `@foundry-rs/anvil-linux-amd64`).
pub const ANVIL_NPM_PATH: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// Arguments every test anvil gets: Prague rules (blob txs with v0 sidecars; anvil's default
/// hardfork is newer), no colour, and instant mining only on demand unless the test adds flags.
pub const DEFAULT_ARGS: &[&str] = &["--hardfork", "prague", "--color", "never"];

/// The anvil binary to run (see the module docs for the search order).
pub fn anvil_path() -> PathBuf {
    if let Some(path) = std::env::var_os("BASED_ANVIL") {
        return PathBuf::from(path);
    }
    let mut dir: Option<&Path> = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let candidate = d.join(ANVIL_NPM_PATH);
        if candidate.is_file() {
            return candidate;
        }
        dir = d.parent();
    }
    PathBuf::from("anvil")
}

/// A free TCP port on 127.0.0.1 (bound and released; fine for tests).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A running anvil child process; killed (and reaped) on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    port: u16,
}

impl Anvil {
    /// Starts anvil on a free port with [`DEFAULT_ARGS`] plus `extra` args and waits until it listens.
    pub fn spawn(extra: &[&str]) -> std::io::Result<Self> {
        Self::spawn_on_port(0, extra)
    }

    /// Starts anvil on `port` (0 = let anvil pick; the chosen port is parsed from its output).
    pub fn spawn_on_port(port: u16, extra: &[&str]) -> std::io::Result<Self> {
        let path = anvil_path();
        let mut child = Command::new(&path)
            .args(DEFAULT_ARGS)
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start anvil at {}: {e} (run `make tools` or set BASED_ANVIL)",
                        path.display()
                    ),
                )
            })?;
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        let (tx, rx) = mpsc::channel();
        // Read the port from "Listening on 127.0.0.1:<port>", then keep draining stdout so anvil never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if !sent && let Some(rest) = line.trim().strip_prefix("Listening on ") {
                    let port = rest.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                    sent = true;
                }
                line.clear();
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(port)) => Ok(Self { child, port }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::io::Error::other("anvil did not report its listening port"))
            }
        }
    }

    /// The port anvil listens on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// JSON-RPC URL (also the beacon API base URL: anvil serves `/eth/v1/beacon/...` on the same port).
    pub fn url(&self) -> alloy_transport_http::reqwest::Url {
        format!("http://127.0.0.1:{}/", self.port).parse().expect("valid url")
    }

    /// Kills anvil now (also done on drop).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Private keys of anvil's first dev accounts (mnemonic `test test ... junk`).
pub const DEV_KEYS: [&str; 3] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];
