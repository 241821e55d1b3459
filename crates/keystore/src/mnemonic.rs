//! Validator keys from a BIP-39 mnemonic, the way Ethereum's deposit tools derive them: the
//! BIP-39 seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt `"mnemonic" ‖ passphrase`), the EIP-2333
//! key tree over it, and the EIP-2334 signing-key path of validator `i`, `m/12381/3600/i/0/0`.
//!
//! This is what `ethstaker-deposit-cli`, `eth2-val-tools` and the Kurtosis ethereum-package use,
//! so a devnet's validator keys can be recreated from its (public, test-only) mnemonic. A real
//! validator's mnemonic belongs offline: use its EIP-2335 keystore instead.

use crate::KeystoreError;
use std::path::Path;
use zeroize::Zeroizing;

/// EIP-2334 purpose of BLS12-381 keys.
pub const PURPOSE: u32 = 12381;
/// EIP-2334 coin type of Ethereum.
pub const COIN_TYPE: u32 = 3600;

/// The EIP-2334 path of validator `index`'s signing key: `m/12381/3600/index/0/0`.
pub const fn signing_key_path(index: u32) -> [u32; 5] {
    [PURPOSE, COIN_TYPE, index, 0, 0]
}

/// The BIP-39 seed of `mnemonic` (English word list, checksum checked; words separated by any
/// whitespace) with `passphrase` (empty for none).
pub fn seed(mnemonic: &str, passphrase: &str) -> Result<Zeroizing<[u8; 64]>, KeystoreError> {
    let words = Zeroizing::new(mnemonic.split_whitespace().collect::<Vec<_>>().join(" "));
    let parsed = bip39::Mnemonic::parse_in(bip39::Language::English, words.as_str())
        .map_err(|e| KeystoreError::Mnemonic(e.to_string()))?;
    Ok(Zeroizing::new(parsed.to_seed(passphrase)))
}

/// The secret key at `path` of the EIP-2333 tree of `seed` (32 bytes, big-endian).
pub fn derive(seed: &[u8], path: &[u32]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let mut key = blst::min_pk::SecretKey::derive_master_eip2333(seed)
        .map_err(|e| KeystoreError::Mnemonic(format!("EIP-2333 master key: {e:?}")))?;
    for &index in path {
        key = key.derive_child_eip2333(index);
    }
    Ok(Zeroizing::new(key.to_bytes()))
}

/// The signing key of validator `index` from `mnemonic` (and `passphrase`, usually empty).
pub fn validator_secret(
    mnemonic: &str,
    passphrase: &str,
    index: u32,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    derive(seed(mnemonic, passphrase)?.as_slice(), &signing_key_path(index))
}

/// Reads a mnemonic file (the words, whitespace-separated; nothing else).
pub fn read_mnemonic_file(path: &Path) -> Result<Zeroizing<String>, KeystoreError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|source| KeystoreError::Io { path: path.display().to_string(), source })?,
    );
    if text.trim().is_empty() {
        return Err(KeystoreError::Mnemonic(format!("mnemonic file {} is empty", path.display())));
    }
    Ok(Zeroizing::new(text.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BIP-39's reference vector, which EIP-2333's test case 0 starts from.
    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                           abandon abandon abandon about";
    /// The Kurtosis ethereum-package's default (public, test-only) validator mnemonic.
    const KURTOSIS: &str = "giant issue aisle success illegal bike spike question tent bar rely \
                            arctic volcano long crawl hungry vocal artwork sniff fantasy very \
                            lucky have athlete";

    fn hex32(bytes: &[u8; 32]) -> String {
        hex::encode(bytes)
    }

    #[test]
    fn eip2333_test_case_0() {
        let seed = seed(ABANDON, "TREZOR").unwrap();
        assert_eq!(
            hex::encode(seed.as_slice()),
            "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"
        );
        // master_SK = 6083874454709270928345386274498605044986640685124978867557563392430687146096
        assert_eq!(
            hex32(&derive(seed.as_slice(), &[]).unwrap()),
            "0d7359d57963ab8fbbde1852dcf553fedbc31f464d80ee7d40ae683122b45070"
        );
        // child_SK (index 0) = 20397789859736650942317412262472558107875392172444076792671091975210932703118
        assert_eq!(
            hex32(&derive(seed.as_slice(), &[0]).unwrap()),
            "2d18bd6c14e6d15bf8b5085c9b74f3daae3b03cc2014770a599d8c1539e50f8e"
        );
    }

    #[test]
    fn kurtosis_validator_0_has_the_genesis_pubkey() {
        // eth2-val-tools' deposit data for m/12381/3600/0/0/0 of this mnemonic.
        let secret = validator_secret(KURTOSIS, "", 0).unwrap();
        let key = blst::min_pk::SecretKey::from_bytes(secret.as_slice()).unwrap();
        assert_eq!(
            hex::encode(key.sk_to_pk().compress()),
            "aaf6c1251e73fb600624937760fef218aace5b253bf068ed45398aeb29d821e4d2899343ddcbbe37cb3f6cf500dff26c"
        );
        // Another index is another key; extra whitespace is the same mnemonic.
        assert_ne!(validator_secret(KURTOSIS, "", 1).unwrap(), secret);
        let spaced = format!("  {}\n", KURTOSIS.replace(' ', "\t "));
        assert_eq!(validator_secret(&spaced, "", 0).unwrap(), secret);
    }

    #[test]
    fn bad_mnemonics_are_errors() {
        // Bad checksum (last word changed), unknown word, wrong length, empty.
        for bad in [
            &ABANDON.replace("about", "abandon")[..],
            &ABANDON.replace("about", "aboutt")[..],
            "abandon abandon abandon",
            "",
        ] {
            assert!(matches!(seed(bad, ""), Err(KeystoreError::Mnemonic(_))), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(matches!(read_mnemonic_file(&empty), Err(KeystoreError::Mnemonic(_))));
        let file = dir.path().join("mnemonic");
        std::fs::write(&file, format!("{KURTOSIS}\n")).unwrap();
        assert_eq!(read_mnemonic_file(&file).unwrap().as_str(), KURTOSIS);
        assert!(matches!(
            read_mnemonic_file(&dir.path().join("missing")),
            Err(KeystoreError::Io { .. })
        ));
    }
}
