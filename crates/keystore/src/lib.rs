//! Private keys for `based` services, never from a command-line value:
//! - EIP-2335 keystores: the encrypted JSON files in which Ethereum validators keep BLS12-381 secret
//!   keys (`version: 4`; KDF `scrypt` or `pbkdf2` with `hmac-sha256`, checksum `sha256`, cipher
//!   `aes-128-ctr`);
//! - ECDSA signers (L1 senders, owners, committers, the proposer) from a Web3 Secret Storage (v3)
//!   keystore with a password file, or from an environment variable ([`ecdsa_signer`]); such
//!   keystores are written by [`encrypt_ecdsa_keystore`] (or geth, or `cast wallet import`);
//! - passwords from a file or, on a terminal, a prompt ([`password`]);
//! - validator keys from a BIP-39 mnemonic file, by EIP-2333 / EIP-2334 ([`mnemonic`]; devnets).
//!
//! Invariants:
//! - A secret is only returned after the checksum `sha256(dk[16..32] ‖ ciphertext)` matched, so a
//!   wrong password is [`KeystoreError::WrongPassword`], never a wrong key.
//! - Passwords are processed as EIP-2335 requires: NFKD-normalised, C0 / C1 / DEL control codes
//!   removed, UTF-8 encoded ([`process_password`]).
//! - Malformed keystores (unknown modules, bad hex, wrong lengths, KDF parameters outside the
//!   bounds below) are typed errors; nothing here panics on input. KDF cost is bounded
//!   ([`MAX_SCRYPT_N`], [`MAX_PBKDF2_C`]) so a hostile file cannot exhaust memory or time.
//! - Key material is zeroed when dropped ([`Secret`]).

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod mnemonic;

use aes::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Largest accepted scrypt `n` (2^20; EIP-2335's vectors use 2^18). Memory is `128 * n * r` bytes.
pub const MAX_SCRYPT_N: u64 = 1 << 20;
/// Largest accepted scrypt `r * p`.
pub const MAX_SCRYPT_RP: u64 = 64;
/// Largest accepted PBKDF2 iteration count (2^22; EIP-2335's vectors use 2^18).
pub const MAX_PBKDF2_C: u32 = 1 << 22;

/// Keystore errors.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a JSON keystore of the expected shape.
    #[error("invalid keystore JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `version` is not 4.
    #[error("unsupported keystore version {0} (EIP-2335 keystores are version 4)")]
    Version(u64),
    /// A module function this implementation does not know.
    #[error("unsupported {module} function {function:?}")]
    Unsupported {
        /// `kdf`, `checksum` or `cipher`.
        module: &'static str,
        /// The function named in the file.
        function: String,
    },
    /// A module's parameters are missing, malformed or out of bounds.
    #[error("invalid {module} parameters: {reason}")]
    Params {
        /// `kdf`, `checksum` or `cipher`.
        module: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The checksum does not match: the password is wrong (or the file was altered).
    #[error("wrong password (keystore checksum mismatch)")]
    WrongPassword,
    /// The password file is empty after trimming the line end.
    #[error("password file {0} is empty")]
    EmptyPassword(String),
    /// No password file was given and there is no terminal to prompt on.
    #[error("no password for {0}: give a password file (stdin is not a terminal, cannot prompt)")]
    NoPassword(String),
    /// No key source was configured.
    #[error("no key: give a keystore file with a password file, or set {0}")]
    NoKey(String),
    /// A Web3 Secret Storage keystore could not be decrypted, or the key is invalid.
    #[error("ECDSA key: {0}")]
    Ecdsa(String),
    /// A BIP-39 mnemonic is malformed (unknown word, wrong length, bad checksum) or empty.
    #[error("mnemonic: {0}")]
    Mnemonic(String),
}

fn params_err(module: &'static str, reason: impl Into<String>) -> KeystoreError {
    KeystoreError::Params { module, reason: reason.into() }
}

/// Secret bytes, zeroed on drop.
pub type Secret = Zeroizing<Vec<u8>>;

/// An EIP-2335 keystore file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keystore {
    /// The three crypto modules.
    pub crypto: Crypto,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hex public key (no `0x`), as written by staking tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    /// EIP-2334 path, or the empty string.
    pub path: String,
    /// RFC 4122 UUID.
    pub uuid: String,
    /// Always 4.
    pub version: u64,
}

/// The `crypto` object: `kdf`, `checksum` and `cipher` modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crypto {
    /// Key derivation.
    pub kdf: Module,
    /// Password verification.
    pub checksum: Module,
    /// Secret encryption.
    pub cipher: Module,
}

/// One EIP-2335 module: `function`, `params` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// The construction used.
    pub function: String,
    /// Its parameters.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Its main input (hex, no `0x`).
    pub message: String,
}

/// EIP-2335 password processing: NFKD, then drop C0 (0x00-0x1F), DEL (0x7F) and C1 (0x80-0x9F)
/// control codes, then UTF-8.
pub fn process_password(password: &str) -> Zeroizing<Vec<u8>> {
    let normalized: Zeroizing<String> = Zeroizing::new(
        password.nfkd().filter(|c| !matches!(u32::from(*c), 0x00..=0x1F | 0x7F..=0x9F)).collect(),
    );
    Zeroizing::new(normalized.as_bytes().to_vec())
}

/// Reads a password file: its contents without one trailing `\n` or `\r\n` (as consensus clients
/// do). An empty password is refused.
pub fn read_password_file(path: &Path) -> Result<Zeroizing<String>, KeystoreError> {
    let mut raw = std::fs::read_to_string(path)
        .map_err(|source| KeystoreError::Io { path: path.display().to_string(), source })?;
    let trimmed = raw.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s));
    let password = Zeroizing::new(trimmed.unwrap_or(&raw).to_owned());
    raw.zeroize();
    if password.is_empty() {
        return Err(KeystoreError::EmptyPassword(path.display().to_string()));
    }
    Ok(password)
}

/// The password from `file` if given; otherwise, if stdin is a terminal, asks for it (no echo).
/// `what` names the key in the prompt and errors.
pub fn password(file: Option<&Path>, what: &str) -> Result<Zeroizing<String>, KeystoreError> {
    use std::io::IsTerminal;
    if let Some(file) = file {
        return read_password_file(file);
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeystoreError::NoPassword(what.to_owned()));
    }
    let entered = rpassword::prompt_password(format!("Password for {what}: "))
        .map_err(|source| KeystoreError::Io { path: "terminal".into(), source })?;
    Ok(Zeroizing::new(entered))
}

/// An ECDSA signer from a Web3 Secret Storage keystore (`keystore`, password from
/// `password_file` or a prompt), or else from the hex private key in the environment variable
/// `env_var`. Keys are never taken from command-line values, so they do not show in `ps`.
pub fn ecdsa_signer(
    keystore: Option<&Path>,
    password_file: Option<&Path>,
    env_var: &str,
) -> Result<alloy_signer_local::PrivateKeySigner, KeystoreError> {
    if let Some(path) = keystore {
        let password = password(password_file, &path.display().to_string())?;
        return alloy_signer_local::PrivateKeySigner::decrypt_keystore(path, password.as_bytes())
            .map_err(|e| KeystoreError::Ecdsa(format!("{}: {e}", path.display())));
    }
    match std::env::var(env_var) {
        Ok(hex) => {
            let hex = Zeroizing::new(hex);
            hex.trim()
                .parse()
                .map_err(|_| KeystoreError::Ecdsa(format!("{env_var} is not a hex private key")))
        }
        Err(_) => Err(KeystoreError::NoKey(env_var.to_owned())),
    }
}

/// Encrypts the 32-byte secp256k1 private key `secret` as a Web3 Secret Storage (version 3)
/// keystore, the format geth, Foundry (`cast wallet import`) and [`ecdsa_signer`] read: scrypt
/// (`n = 2^log_n`, `r = 8`, `p = 1`) with a random salt, AES-128-CTR with a random IV and the
/// `keccak256(dk[16..32] ‖ ciphertext)` MAC. Returns the keystore JSON.
pub fn encrypt_ecdsa_keystore(
    secret: &[u8],
    password: &str,
    log_n: u8,
) -> Result<String, KeystoreError> {
    use rand::RngCore;
    if secret.len() != 32 {
        return Err(KeystoreError::Ecdsa(format!(
            "a private key is 32 bytes, got {}",
            secret.len()
        )));
    }
    if !(1..=20).contains(&log_n) {
        return Err(params_err("kdf", format!("scrypt log_n {log_n} out of [1, 20]")));
    }
    let mut rng = rand::rng();
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    let params = scrypt::Params::new(log_n, 8, 1, 32)
        .map_err(|e| params_err("kdf", format!("scrypt: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.as_bytes(), &salt, &params, key.as_mut_slice())
        .map_err(|e| params_err("kdf", format!("scrypt: {e}")))?;
    let mut ciphertext = secret.to_vec();
    aes_128_ctr(&key, &iv, &mut ciphertext)?;
    let mut mac_input = Zeroizing::new(key.get(16..).unwrap_or_default().to_vec());
    mac_input.extend_from_slice(&ciphertext);
    let mac = alloy_primitives::keccak256(mac_input.as_slice());
    let json = serde_json::json!({
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(&ciphertext),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": 1u64.checked_shl(u32::from(log_n)).unwrap_or(0), "p": 1, "r": 8, "salt": hex::encode(salt) },
            "mac": hex::encode(mac),
        },
        "id": uuid::Uuid::new_v4().to_string(),
        "version": 3,
    });
    Ok(json.to_string())
}

fn hex_param(module: &'static str, value: &str, name: &str) -> Result<Vec<u8>, KeystoreError> {
    hex::decode(value.trim_start_matches("0x"))
        .map_err(|e| params_err(module, format!("{name}: {e}")))
}

fn get_u64(
    module: &'static str,
    params: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<u64, KeystoreError> {
    params
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| params_err(module, format!("missing or non-integer `{name}`")))
}

fn get_str<'a>(
    module: &'static str,
    params: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, KeystoreError> {
    params
        .get(name)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| params_err(module, format!("missing or non-string `{name}`")))
}

/// Derives the 32-byte decryption key from the processed password.
fn derive_key(kdf: &Module, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    const M: &str = "kdf";
    let dklen = get_u64(M, &kdf.params, "dklen")?;
    if dklen != 32 {
        return Err(params_err(M, format!("dklen {dklen}, EIP-2335 requires 32")));
    }
    let salt = hex_param(M, get_str(M, &kdf.params, "salt")?, "salt")?;
    let mut key = Zeroizing::new([0u8; 32]);
    match kdf.function.as_str() {
        "scrypt" => {
            let n = get_u64(M, &kdf.params, "n")?;
            let r = get_u64(M, &kdf.params, "r")?;
            let p = get_u64(M, &kdf.params, "p")?;
            if !n.is_power_of_two() || !(2..=MAX_SCRYPT_N).contains(&n) {
                return Err(params_err(M, format!("scrypt n {n} not a power of two in [2, 2^20]")));
            }
            if r == 0 || p == 0 || r.saturating_mul(p) > MAX_SCRYPT_RP {
                return Err(params_err(M, format!("scrypt r {r} / p {p} out of bounds")));
            }
            let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| params_err(M, "scrypt n"))?;
            let r = u32::try_from(r).map_err(|_| params_err(M, "scrypt r"))?;
            let p = u32::try_from(p).map_err(|_| params_err(M, "scrypt p"))?;
            let params = scrypt::Params::new(log_n, r, p, 32)
                .map_err(|e| params_err(M, format!("scrypt: {e}")))?;
            scrypt::scrypt(password, &salt, &params, key.as_mut_slice())
                .map_err(|e| params_err(M, format!("scrypt: {e}")))?;
        }
        "pbkdf2" => {
            let prf = get_str(M, &kdf.params, "prf")?;
            if prf != "hmac-sha256" {
                return Err(KeystoreError::Unsupported { module: "kdf prf", function: prf.into() });
            }
            let c = get_u64(M, &kdf.params, "c")?;
            let c = u32::try_from(c)
                .ok()
                .filter(|c| (1..=MAX_PBKDF2_C).contains(c))
                .ok_or_else(|| params_err(M, format!("pbkdf2 c {c} out of [1, 2^22]")))?;
            pbkdf2::pbkdf2_hmac::<Sha256>(password, &salt, c, key.as_mut_slice());
        }
        other => return Err(KeystoreError::Unsupported { module: "kdf", function: other.into() }),
    }
    Ok(key)
}

fn checksum(key: &[u8; 32], ciphertext: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(key.get(16..).unwrap_or_default());
    hasher.update(ciphertext);
    hasher.finalize().into()
}

fn aes_128_ctr(key: &[u8; 32], iv: &[u8], data: &mut [u8]) -> Result<(), KeystoreError> {
    let key16 = key.get(..16).ok_or_else(|| params_err("cipher", "key"))?;
    let mut cipher = Aes128Ctr::new_from_slices(key16, iv)
        .map_err(|_| params_err("cipher", format!("iv must be 16 bytes, got {}", iv.len())))?;
    cipher.apply_keystream(data);
    Ok(())
}

impl Keystore {
    /// Parses a keystore from JSON and checks its version and module names.
    pub fn from_json(json: &str) -> Result<Self, KeystoreError> {
        let keystore: Self = serde_json::from_str(json)?;
        if keystore.version != 4 {
            return Err(KeystoreError::Version(keystore.version));
        }
        Ok(keystore)
    }

    /// Reads and parses a keystore file.
    pub fn from_file(path: &Path) -> Result<Self, KeystoreError> {
        let json = std::fs::read_to_string(path)
            .map_err(|source| KeystoreError::Io { path: path.display().to_string(), source })?;
        Self::from_json(&json)
    }

    /// Decrypts the secret with `password` (processed per EIP-2335 first).
    pub fn decrypt(&self, password: &str) -> Result<Secret, KeystoreError> {
        let crypto = &self.crypto;
        if crypto.checksum.function != "sha256" {
            return Err(KeystoreError::Unsupported {
                module: "checksum",
                function: crypto.checksum.function.clone(),
            });
        }
        if crypto.cipher.function != "aes-128-ctr" {
            return Err(KeystoreError::Unsupported {
                module: "cipher",
                function: crypto.cipher.function.clone(),
            });
        }
        let ciphertext = hex_param("cipher", &crypto.cipher.message, "message")?;
        let expected = hex_param("checksum", &crypto.checksum.message, "message")?;
        let iv = hex_param("cipher", get_str("cipher", &crypto.cipher.params, "iv")?, "iv")?;
        let key = derive_key(&crypto.kdf, &process_password(password))?;
        if checksum(&key, &ciphertext).as_slice() != expected.as_slice() {
            return Err(KeystoreError::WrongPassword);
        }
        let mut secret = Zeroizing::new(ciphertext);
        aes_128_ctr(&key, &iv, &mut secret)?;
        Ok(secret)
    }

    /// Encrypts `secret` under `password` with scrypt (`n = 2^log_n`, `r = 8`, `p = 1`), a random
    /// salt, IV and UUID. `pubkey` is stored as hex (without `0x`), `path` as given.
    pub fn encrypt(
        secret: &[u8],
        password: &str,
        pubkey: &[u8],
        path: &str,
        log_n: u8,
    ) -> Result<Self, KeystoreError> {
        use rand::RngCore;
        let mut rng = rand::rng();
        let mut salt = [0u8; 32];
        let mut iv = [0u8; 16];
        rng.fill_bytes(&mut salt);
        rng.fill_bytes(&mut iv);
        let n = 1u64.checked_shl(u32::from(log_n)).unwrap_or(u64::MAX);
        let kdf = Module {
            function: "scrypt".into(),
            params: serde_json::json!({ "dklen": 32, "n": n, "r": 8, "p": 1, "salt": hex::encode(salt) })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            message: String::new(),
        };
        let key = derive_key(&kdf, &process_password(password))?;
        let mut ciphertext = secret.to_vec();
        aes_128_ctr(&key, &iv, &mut ciphertext)?;
        let crypto = Crypto {
            checksum: Module {
                function: "sha256".into(),
                params: serde_json::Map::new(),
                message: hex::encode(checksum(&key, &ciphertext)),
            },
            cipher: Module {
                function: "aes-128-ctr".into(),
                params: serde_json::json!({ "iv": hex::encode(iv) })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                message: hex::encode(&ciphertext),
            },
            kdf,
        };
        Ok(Self {
            crypto,
            description: None,
            pubkey: Some(hex::encode(pubkey)),
            path: path.to_owned(),
            uuid: uuid::Uuid::new_v4().to_string(),
            version: 4,
        })
    }

    /// The stored public key bytes, if present and valid hex.
    pub fn pubkey_bytes(&self) -> Option<Vec<u8>> {
        self.pubkey.as_deref().and_then(|p| hex::decode(p.trim_start_matches("0x")).ok())
    }
}

#[cfg(test)]
mod tests;
