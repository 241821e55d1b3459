//! Locates, starts and stops a local [anvil](https://book.getfoundry.sh/anvil/) process: the L1 of
//! the devnet and of the end-to-end tests.
//!
//! Invariants:
//! - The binary comes from `$BASED_ANVIL`, else the pinned npm package in the repository's
//!   `node_modules` (installed by `make tools`), else `anvil` on `PATH`.
//! - [`Anvil`] owns its child process: dropping it kills and reaps the process, so a test that
//!   panics still leaves nothing running.
//! - [`Anvil::spawn`] returns only once the JSON-RPC endpoint answers `eth_chainId`.

#[cfg(feature = "test-utils")]
pub mod contract;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Path of the anvil binary inside the pinned npm package, relative to the repository root.
pub const NPM_ANVIL_PATH: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// The private keys of anvil's ten default accounts (mnemonic
/// `test test test test test test test test test test test junk`). Public knowledge: for local
/// development only. They are prefunded on every anvil and on the L2 devnet genesis.
pub const DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Errors starting anvil.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// No anvil binary was found.
    #[error("anvil not found: set BASED_ANVIL or run `make tools` (looked in {0})")]
    NotFound(String),
    /// Spawning or talking to the process failed.
    #[error("anvil i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The process exited or did not answer in time.
    #[error("anvil did not become ready: {0}")]
    NotReady(String),
}

/// Options for a new anvil instance.
#[derive(Debug, Clone)]
pub struct AnvilOptions {
    /// Port to listen on; `None` picks a free one.
    pub port: Option<u16>,
    /// Seconds between blocks; `None` mines on every transaction (automine).
    pub block_time: Option<u64>,
    /// L1 chain id.
    pub chain_id: u64,
    /// Hardfork name passed to `--hardfork`.
    pub hardfork: String,
    /// Extra arguments appended verbatim.
    pub extra_args: Vec<String>,
    /// Forward anvil's stdout/stderr to ours (devnet) instead of discarding them (tests).
    pub inherit_output: bool,
}

impl Default for AnvilOptions {
    fn default() -> Self {
        Self {
            port: None,
            block_time: None,
            chain_id: 31337,
            hardfork: "prague".into(),
            extra_args: Vec::new(),
            inherit_output: false,
        }
    }
}

/// A running anvil process, killed on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    port: u16,
}

/// Finds the anvil binary (see the crate docs for the order).
pub fn find_anvil() -> Result<PathBuf, AnvilError> {
    if let Some(p) = std::env::var_os("BASED_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let npm = repo.join(NPM_ANVIL_PATH);
    if npm.is_file() {
        return Ok(npm);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("anvil");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(AnvilError::NotFound(npm.display().to_string()))
}

/// Asks the OS for a currently free TCP port on the loopback interface.
pub fn free_port() -> Result<u16, AnvilError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Anvil {
    /// Starts anvil and waits until it answers JSON-RPC.
    pub fn spawn(opts: &AnvilOptions) -> Result<Self, AnvilError> {
        let bin = find_anvil()?;
        // A port picked by binding port 0 can in rare cases be taken by someone else before
        // anvil binds it; retry a few times with a new port in that case.
        let attempts = if opts.port.is_some() { 1 } else { 5 };
        let mut last = None;
        for _ in 0..attempts {
            let port = match opts.port {
                Some(p) => p,
                None => free_port()?,
            };
            match Self::try_spawn(&bin, port, opts) {
                Ok(a) => return Ok(a),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| AnvilError::NotReady("no attempt made".into())))
    }

    fn try_spawn(bin: &Path, port: u16, opts: &AnvilOptions) -> Result<Self, AnvilError> {
        let mut cmd = Command::new(bin);
        cmd.arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port.to_string())
            .arg("--chain-id")
            .arg(opts.chain_id.to_string())
            .arg("--hardfork")
            .arg(&opts.hardfork);
        if let Some(bt) = opts.block_time {
            cmd.arg("--block-time").arg(bt.to_string());
        }
        cmd.args(&opts.extra_args).stdin(Stdio::null());
        if opts.inherit_output {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        }
        let child = cmd.spawn()?;
        let mut anvil = Self { child, port };
        anvil.wait_ready(Duration::from_secs(30))?;
        tracing::debug!(target: "anvil", port, pid = anvil.child.id(), "anvil ready");
        Ok(anvil)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), AnvilError> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let mut err = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                return Err(AnvilError::NotReady(format!("exited with {status}: {err}")));
            }
            if rpc_call(self.addr(), "eth_chainId", "[]").is_ok() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(AnvilError::NotReady("timed out".into()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port anvil listens on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The socket address anvil listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// HTTP JSON-RPC URL (also the beacon API base URL).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// WebSocket URL.
    pub fn ws_endpoint(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a raw JSON-RPC request (`params` is a JSON array) and returns the `result` value.
    pub fn rpc(&self, method: &str, params: &str) -> Result<serde_json::Value, AnvilError> {
        rpc_call(self.addr(), method, params)
    }

    /// Kills the process and waits for it.
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

/// A minimal blocking HTTP/1.1 JSON-RPC call (no extra dependencies; used for readiness and
/// anvil's test methods such as `anvil_reorg`).
fn rpc_call(addr: SocketAddr, method: &str, params: &str) -> Result<serde_json::Value, AnvilError> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(stream);
    let mut content_length = None;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(AnvilError::NotReady("connection closed".into()));
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((k, v)) = trimmed.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            content_length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    match content_length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        }
        None => {
            reader.read_to_end(&mut body)?;
        }
    }
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AnvilError::NotReady(format!("bad response: {e}")))?;
    if let Some(err) = value.get("error") {
        return Err(AnvilError::NotReady(format!("{method} failed: {err}")));
    }
    Ok(value.get("result").cloned().unwrap_or(serde_json::Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops() {
        let Ok(_) = find_anvil() else {
            panic!("anvil missing: run `make tools` (the test command does)");
        };
        let mut anvil = Anvil::spawn(&AnvilOptions::default()).unwrap();
        let id = anvil.rpc("eth_chainId", "[]").unwrap();
        assert_eq!(id, serde_json::json!("0x7a69"));
        anvil.rpc("evm_mine", "[]").unwrap();
        assert_eq!(anvil.rpc("eth_blockNumber", "[]").unwrap(), serde_json::json!("0x1"));
        let addr = anvil.addr();
        anvil.kill();
        assert!(rpc_call(addr, "eth_chainId", "[]").is_err(), "process still answering");
    }

    #[test]
    fn unknown_method_is_an_error() {
        let anvil = Anvil::spawn(&AnvilOptions::default()).unwrap();
        assert!(anvil.rpc("no_such_method", "[]").is_err());
    }
}
