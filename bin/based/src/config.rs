//! TOML config files of the service subcommands (`based node|proposer|gateway|devnet --config
//! <file>`), `based config example <service>` and `based config show <service> ...`.
//!
//! A config file holds flags without their leading `--`; a dotted flag is a key of the table named
//! by its first part: `--l1.rpc-url` is `rpc-url` in `[l1]` (or, equivalently, `l1.rpc-url = ...`
//! at the top level), `--chain` is `chain`. Integer flags take TOML integers, on/off flags
//! booleans, list flags (`--l1.beacon-url`) arrays, everything else strings.
//!
//! Invariants:
//! - The keys are the clap definitions of the subcommand: the file is checked against, and the
//!   example generated from, the same [`clap::Command`] the command line is parsed with, so they
//!   cannot drift apart.
//! - Precedence is command-line flags > environment variables > config file > defaults: the
//!   file's values become the flags' clap default values before the command line is parsed, and
//!   clap prefers a flag to its environment variable to its default.
//! - An unknown key, a value of the wrong TOML type or one the flag's value parser refuses fails
//!   before anything starts, with an error naming the file and the key. A key that names a private
//!   key (`[proposer] key = ...`) is refused: keys come from keystores or environment variables.

use crate::secrets;
use clap::{Arg, ArgAction, Args, Command, parser::ValueSource};
use eyre::{WrapErr, eyre};
use std::{
    any::TypeId,
    collections::BTreeSet,
    ffi::OsString,
    fmt::Write as _,
    path::{Path, PathBuf},
};

/// The subcommands that take `--config`.
pub(crate) const SERVICES: [&str; 4] = ["node", "proposer", "gateway", "devnet"];

/// Id (and long name) of the `--config` flag.
const CONFIG_ID: &str = "config";

/// Width the example's comments are wrapped to.
const WIDTH: usize = 100;

/// `--config <FILE>` of a service subcommand.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArgs {
    /// TOML config file (`based config example <subcommand>` prints one with every key).
    /// Command-line flags and environment variables override its values.
    #[arg(long = "config", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

impl ConfigArgs {
    /// Logs the config file in use, if any.
    pub(crate) fn log(&self) {
        if let Some(path) = &self.config {
            tracing::info!(config = %path.display(), "config file applied");
        }
    }
}

/// The TOML type a flag's value takes in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Integer,
    String,
}

impl Kind {
    fn of(arg: &Arg) -> Self {
        let ty = arg.get_value_parser().type_id();
        let integers = [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<isize>(),
        ];
        if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
            || ty == TypeId::of::<bool>()
        {
            Self::Bool
        } else if integers.iter().any(|t| ty == *t) {
            Self::Integer
        } else {
            Self::String
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Integer => "an integer",
            Self::String => "a string",
        }
    }
}

/// Whether `arg` takes a list of values (`Vec<_>` flags: repeated or comma-separated).
fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
}

/// The flags of a built subcommand that are config keys: every long flag except `--help`,
/// `--version` and `--config`.
fn key_args(sub: &Command) -> impl Iterator<Item = &Arg> {
    sub.get_arguments().filter(|arg| {
        arg.get_long().is_some()
            && arg.get_id().as_str() != CONFIG_ID
            && !matches!(
                arg.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    })
}

/// Subcommand `service` of `cmd`, built (global flags propagated, defaults finalised).
fn built_service(cmd: &Command, service: &str) -> eyre::Result<Command> {
    if !SERVICES.contains(&service) {
        eyre::bail!("`{service}` takes no config file (services: {})", SERVICES.join(", "));
    }
    let mut cmd = cmd.clone();
    cmd.build();
    cmd.find_subcommand(service)
        .cloned()
        .ok_or_else(|| eyre!("`based` has no subcommand `{service}`"))
}

/// The service subcommand and `--config` file named by the command line `argv` (with the program
/// name), if any. A best-effort parse: a command line clap refuses is left to the real parse.
pub(crate) fn requested(cmd: &Command, argv: &[OsString]) -> Option<(String, PathBuf)> {
    let matches = cmd.clone().ignore_errors(true).try_get_matches_from(argv).ok()?;
    let (name, sub) = matches.subcommand()?;
    if !SERVICES.contains(&name) {
        return None;
    }
    let path = sub.try_get_one::<PathBuf>(CONFIG_ID).ok()??.clone();
    Some((name.to_owned(), path))
}

/// A command with a config file's values merged in as defaults.
pub(crate) struct Applied {
    /// The command to parse the command line with.
    pub(crate) cmd: Command,
    /// The keys the file set.
    pub(crate) keys: BTreeSet<String>,
}

/// Every `(dotted key, value)` of a TOML table, tables flattened (`[l1] rpc-url` -> `l1.rpc-url`).
fn flatten<'a>(prefix: &str, table: &'a toml::Table, out: &mut Vec<(String, &'a toml::Value)>) {
    for (key, value) in table {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out),
            other => out.push((name, other)),
        }
    }
}

fn toml_type(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn scalar(kind: Kind, value: &toml::Value) -> Result<String, String> {
    match (kind, value) {
        (Kind::Bool, toml::Value::Boolean(b)) => Ok(b.to_string()),
        (Kind::Integer, toml::Value::Integer(i)) => Ok(i.to_string()),
        (Kind::String, toml::Value::String(s)) => Ok(s.clone()),
        (kind, other) => Err(format!("expected {}, found {}", kind.name(), toml_type(other))),
    }
}

/// The flag values a config value stands for, type-checked and run through the flag's own value
/// parser (so `http.port = 70000` fails here, naming the key, not later).
fn values(arg: &Arg, value: &toml::Value) -> Result<Vec<String>, String> {
    let kind = Kind::of(arg);
    let values = match value {
        toml::Value::Array(items) if is_list(arg) => {
            items.iter().map(|item| scalar(kind, item)).collect::<Result<Vec<_>, _>>()?
        }
        toml::Value::Array(_) => return Err("takes one value, not an array".into()),
        other => vec![scalar(kind, other)?],
    };
    if kind == Kind::Bool {
        return Ok(values);
    }
    let mut probe = Arg::new("value")
        .long("value")
        .value_parser(arg.get_value_parser().clone())
        .action(ArgAction::Append)
        .allow_hyphen_values(true);
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(delimiter);
    }
    let probe = Command::new("config").no_binary_name(true).arg(probe);
    for value in &values {
        if let Err(e) = probe.clone().try_get_matches_from([format!("--value={value}")]) {
            let reason = std::error::Error::source(&e).map_or_else(
                || {
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                        .to_owned()
                },
                ToString::to_string,
            );
            return Err(format!("invalid value {value:?}: {reason}"));
        }
    }
    Ok(values)
}

/// Reads the config file `path` for subcommand `service` and merges it into `cmd` as defaults.
pub(crate) fn apply(cmd: Command, service: &str, path: &Path) -> eyre::Result<Applied> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading config file {shown}"))?;
    let table: toml::Table =
        text.parse().map_err(|e| eyre!("config file {shown}: invalid TOML: {e}"))?;
    let mut entries = Vec::new();
    flatten("", &table, &mut entries);
    let sub = built_service(&cmd, service)?;
    let mut cmd = cmd;
    let mut keys = BTreeSet::new();
    for (key, value) in entries {
        let Some(arg) = key_args(&sub).find(|a| a.get_long() == Some(key.as_str())) else {
            if secrets::is_key_name(&key) {
                eyre::bail!(
                    "config file {shown}: key `{key}`: private keys are never read from a config \
                     file; {}",
                    secrets::hint(&key, Some(service))
                );
            }
            eyre::bail!(
                "config file {shown}: unknown key `{key}` for `based {service}` \
                 (`based config example {service}` prints every key)"
            );
        };
        let defaults = values(arg, value)
            .map_err(|reason| eyre!("config file {shown}: key `{key}`: {reason}"))?;
        let id = arg.get_id().as_str().to_owned();
        let set = |a: Arg| a.default_values(defaults.clone()).required(false);
        if cmd.get_arguments().any(|a| a.get_id().as_str() == id) {
            // A global flag (`--log.filter`), defined on the root command.
            cmd = cmd.mut_arg(&id, set);
        } else {
            cmd = cmd.mut_subcommand(service, |sub| sub.mut_arg(&id, set));
        }
        keys.insert(key);
    }
    Ok(Applied { cmd, keys })
}

/// `value` as a TOML value of `kind` (a string when it is not one).
fn toml_value(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Bool if value == "true" || value == "false" => value.to_owned(),
        Kind::Integer if value.parse::<i64>().is_ok() => value.to_owned(),
        _ => toml::Value::String(value.to_owned()).to_string(),
    }
}

fn toml_values(arg: &Arg, values: &[String]) -> String {
    let kind = Kind::of(arg);
    if is_list(arg) {
        let items: Vec<String> = values.iter().map(|v| toml_value(kind, v)).collect();
        format!("[{}]", items.join(", "))
    } else {
        values.first().map_or_else(String::new, |v| toml_value(kind, v))
    }
}

/// Splits a dotted flag into its table (empty for top-level keys) and key.
fn split_key(long: &str) -> (&str, &str) {
    long.split_once('.').unwrap_or(("", long))
}

/// The key args of `sub` grouped by table, top-level keys first (TOML needs them before any
/// table), tables in the order of their first flag.
fn sections(sub: &Command) -> Vec<(String, Vec<&Arg>)> {
    let mut sections: Vec<(String, Vec<&Arg>)> = vec![(String::new(), Vec::new())];
    for arg in key_args(sub) {
        let (table, _) = split_key(arg.get_long().unwrap_or_default());
        match sections.iter_mut().find(|(name, _)| name == table) {
            Some((_, args)) => args.push(arg),
            None => sections.push((table.to_owned(), vec![arg])),
        }
    }
    sections
}

fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > WIDTH && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

fn header(out: &mut String, lines: &[&str]) {
    for line in lines {
        comment(out, line);
    }
}

/// A commented config file for `service` with every key: its help, flag and environment
/// variable, and its default (keys without a default are commented out).
pub(crate) fn example(cmd: &Command, service: &str) -> eyre::Result<String> {
    let sub = built_service(cmd, service)?;
    let mut out = String::new();
    header(
        &mut out,
        &[
            &format!("Config file of `based {service}` (`based {service} --config <file>`)."),
            &format!(
                "Generated by `based config example {service}` from the command-line flags: every \
                 key is a flag without its `--`, a dotted flag `--group.name` is `name` in the \
                 `[group]` table. Precedence: command-line flags > environment variables > this \
                 file > defaults. Unknown keys and invalid values are refused at start."
            ),
            "Keys set here are the defaults; keys commented out have none. Private keys never go \
             in this file: give a keystore and a password file, or the key's environment variable.",
        ],
    );
    for (table, args) in sections(&sub) {
        if args.is_empty() {
            continue;
        }
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        if !table.is_empty() {
            let _ = writeln!(out, "[{table}]");
        }
        for arg in args {
            let long = arg.get_long().unwrap_or_default();
            let (_, key) = split_key(long);
            if let Some(help) = arg.get_help() {
                comment(&mut out, &help.to_string());
            }
            let mut source = format!("flag --{long}");
            if let Some(env) = arg.get_env() {
                let _ = write!(source, ", environment variable {}", env.to_string_lossy());
            }
            if arg.is_required_set() {
                source.push_str("; required (here, as the flag or in the environment)");
            }
            comment(&mut out, &source);
            let defaults: Vec<String> =
                arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            if defaults.is_empty() {
                let placeholder = match (is_list(arg), Kind::of(arg)) {
                    (true, _) => "[]",
                    (false, Kind::Integer) => "0",
                    (false, Kind::Bool) => "false",
                    (false, Kind::String) => "\"\"",
                };
                let _ = writeln!(out, "# {key} = {placeholder}\n");
            } else {
                let _ = writeln!(out, "{key} = {}\n", toml_values(arg, &defaults));
            }
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    Ok(out)
}

/// The configuration `based <service> <args>` runs with, as a config file, each key followed by
/// where its value comes from. `cmd` has the config file (`file_keys`) merged in already; `argv`
/// is the whole command line, program name and subcommand included.
pub(crate) fn show(
    cmd: Command,
    service: &str,
    file_keys: &BTreeSet<String>,
    argv: &[OsString],
) -> eyre::Result<String> {
    // The definitions in their declared order (merging the file in reorders the args).
    let sub_cmd = built_service(&crate::cli::command(), service)?;
    let matches = cmd.try_get_matches_from(argv).map_err(|e| {
        eyre!("{}", e.render().to_string().trim_start_matches("error: ").trim_end())
    })?;
    let (name, sub) =
        matches.subcommand().ok_or_else(|| eyre!("no subcommand in the command line"))?;
    eyre::ensure!(name == service, "the command line runs `{name}`, not `{service}`");
    let mut out = String::new();
    header(
        &mut out,
        &[&format!(
            "Configuration of `based {service}` (command-line flags > environment variables > \
             config file > defaults)."
        )],
    );
    for (table, args) in sections(&sub_cmd) {
        if args.is_empty() {
            continue;
        }
        out.push('\n');
        if !table.is_empty() {
            let _ = writeln!(out, "[{table}]");
        }
        for arg in args {
            let long = arg.get_long().unwrap_or_default();
            let (_, key) = split_key(long);
            let id = arg.get_id().as_str();
            let source = match sub.value_source(id) {
                Some(ValueSource::CommandLine) => "command line",
                Some(ValueSource::EnvVariable) => "environment",
                Some(ValueSource::DefaultValue) if file_keys.contains(long) => "config file",
                Some(_) => "default",
                None => {
                    let _ = writeln!(out, "# {key} is not set");
                    continue;
                }
            };
            let values: Vec<String> = if Kind::of(arg) == Kind::Bool {
                let on = sub.try_get_one::<bool>(id).ok().flatten().copied().unwrap_or_default();
                vec![on.to_string()]
            } else {
                sub.try_get_raw(id)
                    .ok()
                    .flatten()
                    .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
                    .unwrap_or_default()
            };
            let _ = writeln!(out, "{key} = {}  # {source}", toml_values(arg, &values));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("based").chain(args.iter().copied()).map(OsString::from).collect()
    }

    /// The effective configuration of `based <args>` with the config file `text`.
    fn effective(service: &str, text: &str, args: &[&str]) -> eyre::Result<String> {
        let f = file(text);
        let applied = apply(crate::cli::command(), service, f.path())?;
        show(applied.cmd, service, &applied.keys, &argv(args))
    }

    fn apply_err(service: &str, text: &str) -> String {
        let f = file(text);
        let err = apply(crate::cli::command(), service, f.path()).err().expect("refused");
        let msg = format!("{err:#}");
        assert!(msg.contains(&f.path().display().to_string()), "file not named: {msg}");
        msg
    }

    #[test]
    fn cli_definition_is_consistent() {
        crate::cli::command().debug_assert();
    }

    #[test]
    fn every_example_is_accepted_and_sets_only_defaults() {
        for service in SERVICES {
            let text = example(&crate::cli::command(), service).unwrap();
            let table: toml::Table = text.parse().unwrap();
            assert!(!table.is_empty(), "{service}: empty example");
            let f = file(&text);
            let applied = apply(crate::cli::command(), service, f.path()).unwrap();
            // Every flag with a default is in the example (set), every other one commented out.
            let sub = built_service(&crate::cli::command(), service).unwrap();
            for arg in key_args(&sub) {
                let long = arg.get_long().unwrap();
                let (_, key) = split_key(long);
                if arg.get_default_values().is_empty() {
                    assert!(text.contains(&format!("# {key} = ")), "{service}: {long} missing");
                } else {
                    assert!(applied.keys.contains(long), "{service}: {long} not set");
                }
            }
        }
    }

    #[test]
    fn precedence_flag_over_file_over_default() {
        let out = effective(
            "proposer",
            "[l1]\nrpc-url = \"http://from-file:1\"\npoll-interval-ms = 700\n\
             [proposer]\nmax-blobs = 3\n[log]\nfilter = \"debug\"\n",
            &["proposer", "--l1.rpc-url", "http://from-flag:2"],
        )
        .unwrap();
        assert!(out.contains("rpc-url = \"http://from-flag:2\"  # command line"), "{out}");
        assert!(out.contains("poll-interval-ms = 700  # config file"), "{out}");
        assert!(out.contains("max-blobs = 3  # config file"), "{out}");
        assert!(out.contains("filter = \"debug\"  # config file"), "{out}");
        assert!(out.contains("addr = \"127.0.0.1:8547\"  # default"), "{out}");
        assert!(out.contains("# keystore is not set"), "{out}");
    }

    #[test]
    fn lists_booleans_and_required_flags_from_the_file() {
        let out = effective(
            "node",
            "l1.beacon-url = [\"http://a:1\", \"http://b:2\"]\n",
            &["node", "--http.port", "0"],
        )
        .unwrap();
        assert!(
            out.contains("beacon-url = [\"http://a:1\", \"http://b:2\"]  # config file"),
            "{out}"
        );
        let out = effective("devnet", "[l1]\nshow-output = true\n", &["devnet"]).unwrap();
        assert!(out.contains("show-output = true  # config file"), "{out}");
        // `--l1.genesis-time` is required; the file may give it.
        let out = effective("gateway", "[l1]\ngenesis-time = 1700000000\n", &["gateway"]).unwrap();
        assert!(out.contains("genesis-time = 1700000000  # config file"), "{out}");
    }

    #[test]
    fn unknown_keys_and_invalid_values_are_refused_naming_the_key() {
        let msg = apply_err("proposer", "[l1]\nrpc-urll = \"http://x\"\n");
        assert!(msg.contains("unknown key `l1.rpc-urll`"), "{msg}");
        let msg = apply_err("node", "datadir = \"d\"\n[l1.extra]\nthing = 1\n");
        assert!(msg.contains("`l1.extra.thing`"), "{msg}");
        let msg = apply_err("proposer", "[l1]\npoll-interval-ms = \"fast\"\n");
        assert!(msg.contains("key `l1.poll-interval-ms`: expected an integer"), "{msg}");
        // The Inbox comes from the chain spec only.
        let msg = apply_err("proposer", "[l1]\ninbox-address = \"0x1234\"\n");
        assert!(msg.contains("unknown key `l1.inbox-address`"), "{msg}");
        let msg = apply_err("node", "[http]\nport = 70000\n");
        assert!(msg.contains("key `http.port`"), "{msg}");
        let msg = apply_err("node", "[http]\nport = \"8546\"\n");
        assert!(msg.contains("key `http.port`: expected an integer, found a string"), "{msg}");
        let msg = apply_err("devnet", "[sequencing]\nmode = \"sometimes\"\n");
        assert!(msg.contains("key `sequencing.mode`"), "{msg}");
        let msg = apply_err("gateway", "chain = [\"devnet\"]\n");
        assert!(msg.contains("key `chain`: takes one value"), "{msg}");
        let msg = apply_err("node", "[l1\nrpc-url = 1\n");
        assert!(msg.contains("invalid TOML"), "{msg}");
        // `--config` is not a key of its own file.
        let msg = apply_err("node", "config = \"other.toml\"\n");
        assert!(msg.contains("unknown key `config`"), "{msg}");
    }

    #[test]
    fn private_keys_are_refused_in_config_files_without_echoing_them() {
        let secret = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let msg = apply_err("proposer", &format!("[proposer]\nkey = \"0x{secret}\"\n"));
        assert!(msg.contains("`proposer.key`") && msg.contains("BASED_PROPOSER_KEY"), "{msg}");
        assert!(!msg.contains(secret), "{msg}");
        let msg = apply_err("gateway", &format!("private-key = \"{secret}\"\n"));
        assert!(msg.contains("BASED_COMMITTER_KEY") && !msg.contains(secret), "{msg}");
    }

    #[test]
    fn no_real_flag_looks_like_a_key_flag() {
        fn walk(cmd: &Command, path: &str) {
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long() {
                    assert!(!secrets::is_key_name(long), "{path} --{long} would be refused");
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let mut cmd = crate::cli::command();
        cmd.build();
        walk(&cmd, "based");
    }

    #[test]
    fn config_is_found_only_for_services() {
        let cmd = crate::cli::command();
        let found = requested(&cmd, &argv(&["node", "--config", "n.toml", "--http.port", "1"]));
        assert_eq!(found, Some(("node".to_owned(), PathBuf::from("n.toml"))));
        let found = requested(&cmd, &argv(&["--log.filter", "warn", "gateway", "--config=g.toml"]));
        assert_eq!(found, Some(("gateway".to_owned(), PathBuf::from("g.toml"))));
        assert_eq!(requested(&cmd, &argv(&["node"])), None);
        assert_eq!(requested(&cmd, &argv(&["validator", "status"])), None);
    }
}
