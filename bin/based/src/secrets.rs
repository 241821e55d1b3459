//! Private keys never come from a command-line value: a flag that looks like one (`--proposer.key`,
//! `--committer.key`, `--private-key`, ...) is refused before anything starts, with the error naming
//! the keystore flags and the environment variable to use instead, and never the value.
//!
//! Where each key comes from (all through [`based_keystore::ecdsa_signer`] or an EIP-2335 keystore):
//! - proposer: `--proposer.keystore` + `--proposer.password-file`, or `BASED_PROPOSER_KEY`;
//! - gateway committer: `--committer.keystore` + `--committer.password-file`, or
//!   `BASED_COMMITTER_KEY`;
//! - validator owner (L1 sender): `--owner.keystore` + `--owner.password-file`, or
//!   `BASED_OWNER_KEY`;
//! - validator BLS key: `--validator.keystore` + `--validator.password-file` (EIP-2335) only.

use std::ffi::OsString;

/// One key's sources: its flag group, keystore flag, password-file flag and environment variable.
struct KeySource {
    group: &'static str,
    keystore: &'static str,
    password_file: &'static str,
    env: Option<&'static str>,
}

const KEY_SOURCES: &[KeySource] = &[
    KeySource {
        group: "proposer",
        keystore: "--proposer.keystore",
        password_file: "--proposer.password-file",
        env: Some("BASED_PROPOSER_KEY"),
    },
    KeySource {
        group: "committer",
        keystore: "--committer.keystore",
        password_file: "--committer.password-file",
        env: Some("BASED_COMMITTER_KEY"),
    },
    KeySource {
        group: "owner",
        keystore: "--owner.keystore",
        password_file: "--owner.password-file",
        env: Some("BASED_OWNER_KEY"),
    },
    KeySource {
        group: "validator",
        keystore: "--validator.keystore",
        password_file: "--validator.password-file",
        env: None,
    },
];

/// The key group a subcommand's unqualified key flag (`--key`, `--private-key`) would mean.
fn group_of_subcommand(subcommand: &str) -> Option<&'static str> {
    match subcommand {
        "proposer" => Some("proposer"),
        "gateway" => Some("committer"),
        "validator" => Some("owner"),
        _ => None,
    }
}

/// Whether a flag or config key name (without `--`) names a private key: `key`, or ending in
/// `.key`, `-key` or `_key` (`proposer.key`, `private-key`). `keystore` and `pubkey` are not.
pub(crate) fn is_key_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "key" || [".key", "-key", "_key"].iter().any(|suffix| name.ends_with(suffix))
}

/// What to use instead of the key flag or config key `name` under `subcommand`.
pub(crate) fn hint(name: &str, subcommand: Option<&str>) -> String {
    let group = name
        .split_once('.')
        .map(|(group, _)| group)
        .or_else(|| subcommand.and_then(group_of_subcommand));
    let source = group.and_then(|g| KEY_SOURCES.iter().find(|s| s.group == g));
    match source {
        Some(KeySource { keystore, password_file, env: Some(env), .. }) => format!(
            "give the key as an encrypted keystore (`{keystore} <file>` with \
             `{password_file} <file>`) or in the environment variable {env}"
        ),
        Some(KeySource { keystore, password_file, env: None, .. }) => format!(
            "give the key as an EIP-2335 keystore (`{keystore} <file>` with `{password_file} <file>`)"
        ),
        None => "give keys as an encrypted keystore with a password file, or in the key's \
                 environment variable (see `based <subcommand> --help`)"
            .to_owned(),
    }
}

/// Refuses a command line that passes a private key as a flag (`--proposer.key <hex>`,
/// `--proposer.key=<hex>`, `--private-key ...`). The error names the flag and what to use
/// instead; it never contains the value. Arguments after a bare `--` are not flags.
pub(crate) fn refuse_key_flags(argv: &[OsString]) -> eyre::Result<()> {
    let args: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .collect();
    let subcommand = args.iter().find(|a| !a.starts_with('-')).map(String::as_str);
    for arg in &args {
        let Some(flag) = arg.strip_prefix("--") else { continue };
        let name = flag.split_once('=').map_or(flag, |(name, _)| name);
        if is_key_name(name) {
            eyre::bail!(
                "refusing to start: `--{name}` would put a private key on the command line, where \
                 `ps` and shell history show it; {}",
                hint(name, subcommand)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("based").chain(args.iter().copied()).map(OsString::from).collect()
    }

    const SECRET: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn key_flags_are_refused_without_echoing_the_value() {
        for (args, expect) in [
            (vec!["proposer", "--proposer.key", SECRET], "BASED_PROPOSER_KEY"),
            (vec!["proposer", &format!("--proposer.key={SECRET}")], "--proposer.keystore"),
            (vec!["gateway", "--committer.key", SECRET], "BASED_COMMITTER_KEY"),
            (vec!["gateway", "--private-key", SECRET], "BASED_COMMITTER_KEY"),
            (vec!["validator", "status", "--owner.key", SECRET], "BASED_OWNER_KEY"),
            (vec!["validator", "register", "--validator.key", SECRET], "--validator.keystore"),
            (vec!["proposer", "--key", SECRET], "BASED_PROPOSER_KEY"),
        ] {
            let err = refuse_key_flags(&argv(&args)).unwrap_err().to_string();
            assert!(err.contains(expect), "{args:?}: {err}");
            assert!(!err.contains(&SECRET[2..]), "{args:?} echoed the key: {err}");
        }
    }

    #[test]
    fn keystore_flags_values_and_escaped_arguments_pass() {
        let ok = [
            vec!["proposer", "--proposer.keystore", "k.json", "--proposer.password-file", "pw"],
            vec!["validator", "status", "--validator.pubkey", "0xab"],
            vec!["node", "--datadir", "--keys-dir"],
            vec!["node", "--", "--proposer.key"],
        ];
        for args in ok {
            assert!(refuse_key_flags(&argv(&args)).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn key_names() {
        for name in ["key", "proposer.key", "private-key", "committer_key", "Owner.KEY"] {
            assert!(is_key_name(name), "{name}");
        }
        for name in ["keystore", "proposer.keystore", "validator.pubkey", "password-file", "keys"] {
            assert!(!is_key_name(name), "{name}");
        }
    }
}
