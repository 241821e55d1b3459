//! EIP-2335 test vectors, round trips and malformed input.

use super::*;

const PASSWORD: &str = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑";
const SECRET: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";

const SCRYPT_VECTOR: &str = r#"{
    "crypto": {
        "kdf": {"function": "scrypt", "params": {"dklen": 32, "n": 262144, "p": 1, "r": 8,
            "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"}, "message": ""},
        "checksum": {"function": "sha256", "params": {},
            "message": "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484"},
        "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
            "message": "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f"}
    },
    "description": "This is a test keystore that uses scrypt to secure the secret.",
    "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
    "path": "m/12381/60/3141592653/589793238",
    "uuid": "1d85ae20-35c5-4611-98e8-aa14a633906f",
    "version": 4
}"#;

const PBKDF2_VECTOR: &str = r#"{
    "crypto": {
        "kdf": {"function": "pbkdf2", "params": {"dklen": 32, "c": 262144, "prf": "hmac-sha256",
            "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"}, "message": ""},
        "checksum": {"function": "sha256", "params": {},
            "message": "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1"},
        "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
            "message": "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad"}
    },
    "description": "This is a test keystore that uses PBKDF2 to secure the secret.",
    "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
    "path": "m/12381/60/0/0",
    "uuid": "64625def-3331-4eea-ab6f-782f3ed16a83",
    "version": 4
}"#;

#[test]
fn eip2335_password_processing_vector() {
    assert_eq!(hex::encode(process_password(PASSWORD)), "7465737470617373776f7264f09f9491");
    // C0, DEL and C1 control codes are removed; a space is kept.
    assert_eq!(process_password("a\u{0}b\u{1f} c\u{7f}d\u{80}e\u{9f}").as_slice(), b"ab cde");
}

#[test]
fn eip2335_scrypt_vector_decrypts() {
    let keystore = Keystore::from_json(SCRYPT_VECTOR).unwrap();
    assert_eq!(hex::encode(keystore.decrypt(PASSWORD).unwrap()), SECRET);
    assert!(matches!(keystore.decrypt("testpassword"), Err(KeystoreError::WrongPassword)));
}

#[test]
fn eip2335_pbkdf2_vector_decrypts() {
    let keystore = Keystore::from_json(PBKDF2_VECTOR).unwrap();
    assert_eq!(hex::encode(keystore.decrypt(PASSWORD).unwrap()), SECRET);
    assert_eq!(keystore.pubkey_bytes().unwrap().len(), 48);
    assert!(matches!(keystore.decrypt("wrong"), Err(KeystoreError::WrongPassword)));
}

#[test]
fn encrypt_then_decrypt_round_trips() {
    let secret = hex::decode(SECRET).unwrap();
    let keystore = Keystore::encrypt(&secret, "hunter2", &[7u8; 48], "", 4).unwrap();
    let reparsed = Keystore::from_json(&serde_json::to_string(&keystore).unwrap()).unwrap();
    assert_eq!(reparsed, keystore);
    assert_eq!(reparsed.decrypt("hunter2").unwrap().as_slice(), secret.as_slice());
    assert!(matches!(reparsed.decrypt("hunter3"), Err(KeystoreError::WrongPassword)));
    // Fresh salt and IV every time.
    let other = Keystore::encrypt(&secret, "hunter2", &[7u8; 48], "", 4).unwrap();
    assert_ne!(other.crypto.cipher.message, keystore.crypto.cipher.message);
}

fn edit(json: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    f(&mut v);
    v.to_string()
}

#[test]
fn malformed_keystores_are_typed_errors() {
    let small =
        serde_json::to_string(&Keystore::encrypt(&[1u8; 32], "pw", &[], "", 4).unwrap()).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("version", edit(&small, |v| v["version"] = 3.into())),
        ("kdf", edit(&small, |v| v["crypto"]["kdf"]["function"] = "argon2".into())),
        ("checksum", edit(&small, |v| v["crypto"]["checksum"]["function"] = "keccak".into())),
        ("cipher", edit(&small, |v| v["crypto"]["cipher"]["function"] = "aes-256-gcm".into())),
        ("n huge", edit(&small, |v| v["crypto"]["kdf"]["params"]["n"] = (1u64 << 40).into())),
        ("n odd", edit(&small, |v| v["crypto"]["kdf"]["params"]["n"] = 1000.into())),
        ("r*p", edit(&small, |v| v["crypto"]["kdf"]["params"]["p"] = 1000.into())),
        ("dklen", edit(&small, |v| v["crypto"]["kdf"]["params"]["dklen"] = 16.into())),
        ("salt hex", edit(&small, |v| v["crypto"]["kdf"]["params"]["salt"] = "zz".into())),
        (
            "no salt",
            edit(&small, |v| {
                v["crypto"]["kdf"]["params"].as_object_mut().unwrap().remove("salt");
            }),
        ),
        ("iv len", edit(&small, |v| v["crypto"]["cipher"]["params"]["iv"] = "00".into())),
        ("message hex", edit(&small, |v| v["crypto"]["cipher"]["message"] = "xyz".into())),
        (
            "pbkdf2 prf",
            edit(PBKDF2_VECTOR, |v| {
                v["crypto"]["kdf"]["params"]["prf"] = "hmac-sha512".into();
            }),
        ),
        (
            "pbkdf2 c",
            edit(PBKDF2_VECTOR, |v| {
                v["crypto"]["kdf"]["params"]["c"] = (1u64 << 40).into();
            }),
        ),
        ("not json", "{".into()),
        ("missing crypto", r#"{"path":"","uuid":"","version":4}"#.into()),
    ];
    for (name, json) in cases {
        let result = Keystore::from_json(&json).and_then(|k| k.decrypt("pw"));
        let err = result.expect_err(name);
        assert!(!matches!(err, KeystoreError::WrongPassword), "{name}: {err}");
    }
}

#[test]
fn password_file_drops_one_line_end_and_refuses_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw");
    std::fs::write(&path, "s3cret\r\n").unwrap();
    assert_eq!(read_password_file(&path).unwrap().as_str(), "s3cret");
    std::fs::write(&path, "with space \n\n").unwrap();
    assert_eq!(read_password_file(&path).unwrap().as_str(), "with space \n");
    std::fs::write(&path, "\n").unwrap();
    assert!(matches!(read_password_file(&path), Err(KeystoreError::EmptyPassword(_))));
    assert!(matches!(
        read_password_file(&dir.path().join("missing")),
        Err(KeystoreError::Io { .. })
    ));
}

proptest::proptest! {
    #[test]
    fn arbitrary_json_never_panics(s in ".{0,300}") {
        let _ = Keystore::from_json(&s).and_then(|k| k.decrypt("pw"));
    }
}

/// The Web3 Secret Storage (v3) PBKDF2 test vector (password `testpassword`).
const WEB3_V3_VECTOR: &str = r#"{"crypto":{"cipher":"aes-128-ctr",
    "cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},
    "ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    "kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256",
    "salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
    "mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},
    "id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;

#[test]
fn ecdsa_signer_from_web3_keystore_or_env() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.json");
    std::fs::write(&file, WEB3_V3_VECTOR).unwrap();
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "testpassword\n").unwrap();
    let expected = alloy_signer_local::PrivateKeySigner::from_slice(
        &hex::decode("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d").unwrap(),
    )
    .unwrap()
    .address();
    let signer = ecdsa_signer(Some(&file), Some(&pw), "BASED_TEST_UNSET_KEY").unwrap();
    assert_eq!(signer.address(), expected);
    std::fs::write(&pw, "wrong\n").unwrap();
    assert!(matches!(
        ecdsa_signer(Some(&file), Some(&pw), "BASED_TEST_UNSET_KEY"),
        Err(KeystoreError::Ecdsa(_))
    ));
    // No keystore and an unset variable: a clear error, never a default key.
    assert!(matches!(
        ecdsa_signer(None, None, "BASED_TEST_UNSET_KEY_ENV"),
        Err(KeystoreError::NoKey(_))
    ));
}

#[test]
fn web3_keystore_round_trips_through_ecdsa_signer() {
    let key = [0x42u8; 32];
    let json = encrypt_ecdsa_keystore(&key, "hunter2", 4).unwrap();
    assert!(!json.contains(&hex::encode(key)), "the key must not be stored in clear");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    let pw = dir.path().join("pw");
    std::fs::write(&path, &json).unwrap();
    std::fs::write(&pw, "hunter2\n").unwrap();
    let signer = ecdsa_signer(Some(&path), Some(&pw), "BASED_TEST_UNSET_KEY_VAR").unwrap();
    assert_eq!(signer.to_bytes().as_slice(), key.as_slice());
    std::fs::write(&pw, "wrong\n").unwrap();
    assert!(ecdsa_signer(Some(&path), Some(&pw), "BASED_TEST_UNSET_KEY_VAR").is_err());
}

#[test]
fn web3_keystore_refuses_bad_input() {
    assert!(encrypt_ecdsa_keystore(&[1u8; 31], "pw", 4).is_err());
    assert!(encrypt_ecdsa_keystore(&[1u8; 32], "pw", 0).is_err());
    assert!(encrypt_ecdsa_keystore(&[1u8; 32], "pw", 21).is_err());
}
