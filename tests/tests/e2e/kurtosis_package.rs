//! Static check of the Kurtosis package (`kurtosis/`) and the `Dockerfile` against the real `based`
//! binary. Docker and Kurtosis are not needed: the package is read, not run.
//!
//! - Every `based` service of the package (`ServiceConfig(...)` in `kurtosis/**/*.star`) names a
//!   real subcommand, and every `--flag` it passes (its own and the `based.extra_args` of
//!   `kurtosis/network_params.yaml`) is one `based <subcommand> --help` lists, with a value exactly
//!   when the flag takes one, at most once; every environment variable it sets is one the
//!   subcommand reads; every required flag is given (as a flag or its variable); no private key is
//!   a flag value; every port is the flag's default port and the one the service exposes.
//! - Every `BASED_*` name anywhere in the package is a variable of the binary; no `--flag` string
//!   lives outside a checked command line.
//! - The `based:` keys of `network_params.yaml` are the package's `DEFAULTS`; the ethereum-package
//!   import and the foundry image are pinned; the constructor signatures the package deploys with
//!   are the ABI of `contracts/out/*.json`.
//! - The `Dockerfile`: the toolchain pin is the workspace's `rust-version`, the built package is a
//!   workspace member, every copied path exists (and is not `.dockerignore`d), the image carries
//!   the contract artifacts where the package reads them, the user is not root, and the EXPOSEd
//!   ports are the binary's default ports.

use based_tests::{based_bin, eyre};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

// ---------------------------------------------------------------------------------------------
// The CLI, as `based ... --help` describes it.

/// One `--flag` of a subcommand.
#[derive(Debug, Clone)]
pub(crate) struct Opt {
    pub(crate) takes_value: bool,
    env: Option<String>,
    default: Option<String>,
}

/// One (sub)command: its flags, the flags its usage line requires, its subcommands, and the
/// environment variables it reads (those of its flags, and those its help names, like
/// `BASED_COMMITTER_KEY`, which the binary reads itself).
#[derive(Debug, Default)]
pub(crate) struct HelpPage {
    pub(crate) options: BTreeMap<String, Opt>,
    required: Vec<String>,
    pub(crate) subcommands: BTreeSet<String>,
    env_vars: BTreeSet<String>,
}

impl HelpPage {
    fn parse(text: &str) -> Self {
        let mut page = Self::default();
        let mut entry: Option<(String, String)> = None;
        let mut in_commands = false;
        let flush = |entry: &mut Option<(String, String)>, page: &mut Self| {
            if let Some((head, body)) = entry.take() {
                let (name, takes_value) = option_head(&head);
                page.options.insert(
                    name,
                    Opt {
                        takes_value,
                        env: bracketed(&body, "[env: ")
                            .map(|e| e.split('=').next().unwrap_or_default().trim().to_string()),
                        default: bracketed(&body, "[default: "),
                    },
                );
            }
        };
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(usage) = line.strip_prefix("Usage: ") {
                page.required = usage
                    .split_whitespace()
                    .filter(|t| t.starts_with("--"))
                    .map(str::to_string)
                    .collect();
                continue;
            }
            if !line.starts_with(' ') {
                // A section heading ("Options:", "L1:", "Commands:") or a blank line.
                flush(&mut entry, &mut page);
                in_commands = line.trim() == "Commands:";
                continue;
            }
            if in_commands {
                if let Some(name) = trimmed.split_whitespace().next() {
                    page.subcommands.insert(name.to_string());
                }
                continue;
            }
            let head = trimmed.strip_prefix(|c: char| c == '-').and_then(|rest| {
                // `-h, --help` or `--flag <VALUE>`
                if rest.starts_with('-') {
                    Some(trimmed)
                } else {
                    rest.split_once(", ").map(|(_, long)| long).filter(|l| l.starts_with("--"))
                }
            });
            match head {
                Some(head) => {
                    flush(&mut entry, &mut page);
                    entry = Some((head.to_string(), trimmed.to_string()));
                }
                None => {
                    if let Some((_, body)) = entry.as_mut() {
                        body.push(' ');
                        body.push_str(trimmed);
                    }
                }
            }
        }
        flush(&mut entry, &mut page);
        page.env_vars = page.options.values().filter_map(|o| o.env.clone()).collect();
        page.env_vars.extend(
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("BASED_") && w.len() > "BASED_".len())
                .map(str::to_string),
        );
        page
    }
}

/// `--flag <VALUE>  help...` -> ("--flag", true).
fn option_head(head: &str) -> (String, bool) {
    let name: String = head.chars().take_while(|c| !c.is_whitespace()).collect();
    let rest = &head[name.len()..];
    (name, rest.starts_with(" <"))
}

/// The text after `open` up to the next `]`.
fn bracketed(body: &str, open: &str) -> Option<String> {
    let start = body.find(open)? + open.len();
    let end = body[start..].find(']')? + start;
    Some(body[start..end].to_string())
}

/// `based <path...> --help`, parsed; cached per path.
pub(crate) fn help(path: &[String]) -> eyre::Result<&'static HelpPage> {
    static CACHE: OnceLock<Mutex<BTreeMap<Vec<String>, &'static HelpPage>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(page) = cache.lock().map_err(|_| eyre::eyre!("poisoned"))?.get(path) {
        return Ok(page);
    }
    let out = Command::new(based_bin()?)
        .args(path)
        .arg("--help")
        .env_remove("RUST_LOG")
        .env("COLUMNS", "400")
        .output()?;
    eyre::ensure!(
        out.status.success(),
        "`based {} --help` failed: {}",
        path.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let page: &'static HelpPage =
        Box::leak(Box::new(HelpPage::parse(&String::from_utf8_lossy(&out.stdout))));
    cache.lock().map_err(|_| eyre::eyre!("poisoned"))?.insert(path.to_vec(), page);
    Ok(page)
}

/// The help page of subcommand `path`, after checking each level exists.
fn subcommand(path: &[String]) -> eyre::Result<&'static HelpPage> {
    for depth in 0..path.len() {
        let parent = help(&path[..depth])?;
        eyre::ensure!(
            parent.subcommands.contains(&path[depth]),
            "`based {}` has no subcommand `{}` (it has: {:?})",
            path[..depth].join(" "),
            path[depth],
            parent.subcommands
        );
    }
    help(path)
}

/// The port of a default like `8546` or `127.0.0.1:8547`.
fn default_port(opt: &Opt) -> Option<u16> {
    opt.default.as_deref()?.rsplit(':').next()?.trim().parse().ok()
}

// ---------------------------------------------------------------------------------------------
// A small Starlark scanner: enough to find the command lines, env vars and ports of the package.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Str(String),
    Ident(String),
    Int(i64),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

fn tokenize(src: &str) -> eyre::Result<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '\\' => i += 1, // explicit line joining
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' | '\'' => {
                let start_line = line;
                let triple = i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c;
                i += if triple { 3 } else { 1 };
                let mut s = String::new();
                loop {
                    eyre::ensure!(i < chars.len(), "unterminated string from line {start_line}");
                    let ch = chars[i];
                    if ch == '\\' && i + 1 < chars.len() {
                        let next = chars[i + 1];
                        match next {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            '\\' | '"' | '\'' => s.push(next),
                            '\n' => line += 1,
                            other => {
                                s.push('\\');
                                s.push(other);
                            }
                        }
                        i += 2;
                        continue;
                    }
                    if triple {
                        if ch == c && i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c
                        {
                            i += 3;
                            break;
                        }
                    } else if ch == c {
                        i += 1;
                        break;
                    } else if ch == '\n' {
                        eyre::bail!("newline in a string on line {line}");
                    }
                    if ch == '\n' {
                        line += 1;
                    }
                    s.push(ch);
                    i += 1;
                }
                out.push(Token { tok: Tok::Str(s), line: start_line });
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
                let value = text.parse().unwrap_or(i64::MAX);
                out.push(Token { tok: Tok::Int(value), line });
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Ident(chars[start..i].iter().collect()), line });
            }
            other => {
                out.push(Token { tok: Tok::Punct(other), line });
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Index of the bracket closing the one at `open`.
fn closing(toks: &[Token], open: usize) -> eyre::Result<usize> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    eyre::bail!("unbalanced bracket from line {}", toks[open].line)
}

/// The elements of the bracketed list/dict/call at `open`, split at its top-level commas.
fn elements(toks: &[Token], open: usize) -> eyre::Result<Vec<&[Token]>> {
    let close = closing(toks, open)?;
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = open + 1;
    for i in open + 1..close {
        match toks[i].tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < close {
        out.push(&toks[start..close]);
    }
    Ok(out)
}

/// `name = <open bracket>` inside `toks[from..to]`: the index of the bracket.
fn keyword_bracket(toks: &[Token], from: usize, to: usize, name: &str) -> Option<usize> {
    (from..to.saturating_sub(2))
        .find(|&i| {
            toks[i].tok == Tok::Ident(name.into())
                && toks[i + 1].tok == Tok::Punct('=')
                && matches!(toks[i + 2].tok, Tok::Punct('[' | '{'))
        })
        .map(|i| i + 2)
}

/// Top-level `NAME = 123` / `NAME = "text"` constants of a file.
pub(crate) fn constants(src: &str) -> BTreeMap<String, String> {
    src.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .filter_map(|l| l.split_once(" = "))
        .filter(|(name, _)| {
            name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(|(name, value)| (name.to_string(), value.trim().trim_matches('"').to_string()))
        .collect()
}

/// The value of the top-level string constant `NAME = "..."` (or `"""..."""`) of a Starlark file,
/// with Starlark's escapes applied (what the shell of `plan.run_sh` receives).
pub(crate) fn string_constant(src: &str, name: &str) -> eyre::Result<String> {
    let toks = tokenize(src)?;
    toks.windows(3)
        .find_map(|w| match (&w[0].tok, &w[1].tok, &w[2].tok) {
            (Tok::Ident(n), Tok::Punct('='), Tok::Str(value)) if n == name => Some(value.clone()),
            _ => None,
        })
        .ok_or_else(|| eyre::eyre!("no string constant {name}"))
}

/// One `--flag` of a package command line.
#[derive(Debug, Clone)]
struct Flag {
    name: String,
    has_value: bool,
    /// The constant of `"--flag=..." + str(CONST)`.
    port_const: Option<String>,
    at: String,
}

/// One `based` service of the package.
#[derive(Debug)]
struct Service {
    at: String,
    subcommand: Vec<String>,
    flags: Vec<Flag>,
    /// `+ based_args["extra_args"]["<key>"]` after the list.
    extra_args_key: Option<String>,
    env: Vec<String>,
    port_consts: Vec<String>,
}

fn services(file: &str, toks: &[Token]) -> eyre::Result<Vec<Service>> {
    let mut out = Vec::new();
    for start in 0..toks.len().saturating_sub(1) {
        if toks[start].tok != Tok::Ident("ServiceConfig".into())
            || toks[start + 1].tok != Tok::Punct('(')
        {
            continue;
        }
        let end = closing(toks, start + 1)?;
        let at = format!("{file}:{}", toks[start].line);
        let cmd = keyword_bracket(toks, start, end, "cmd")
            .ok_or_else(|| eyre::eyre!("{at}: ServiceConfig without cmd=[...]"))?;
        let mut service = Service {
            at: at.clone(),
            subcommand: Vec::new(),
            flags: Vec::new(),
            extra_args_key: None,
            env: Vec::new(),
            port_consts: Vec::new(),
        };
        for element in elements(toks, cmd)? {
            let line = element.first().map_or(0, |t| t.line);
            let here = format!("{file}:{line}");
            let Some(Tok::Str(text)) = element.first().map(|t| &t.tok) else {
                eyre::bail!("{here}: a cmd element that is not a string literal: {element:?}");
            };
            if let Some(flag) = text.strip_prefix("--") {
                let (name, value) = match flag.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (flag, None),
                };
                let port_const = match &element[1..] {
                    [] => None,
                    [
                        Token { tok: Tok::Punct('+'), .. },
                        Token { tok: Tok::Ident(f), .. },
                        Token { tok: Tok::Punct('('), .. },
                        Token { tok: Tok::Ident(c), .. },
                        Token { tok: Tok::Punct(')'), .. },
                    ] if f == "str" && c.ends_with("_PORT") => Some(c.clone()),
                    _ => None,
                };
                service.flags.push(Flag {
                    name: format!("--{name}"),
                    has_value: value.is_some(),
                    port_const,
                    at: here,
                });
            } else {
                eyre::ensure!(
                    service.flags.is_empty(),
                    "{here}: `{text}` after the flags (the subcommand comes first)"
                );
                service.subcommand.push(text.clone());
            }
        }
        eyre::ensure!(!service.subcommand.is_empty(), "{at}: cmd does not start with a subcommand");
        // cmd=[...] + based_args["extra_args"]["node"]
        let after = closing(toks, cmd)? + 1;
        if toks.get(after).map(|t| &t.tok) == Some(&Tok::Punct('+')) {
            let tail = &toks[after..end];
            let pos = tail.iter().position(|t| t.tok == Tok::Str("extra_args".into()));
            service.extra_args_key = pos.and_then(|p| match tail.get(p + 3).map(|t| &t.tok) {
                Some(Tok::Str(key)) => Some(key.clone()),
                _ => None,
            });
            eyre::ensure!(
                service.extra_args_key.is_some(),
                "{at}: cmd=[...] + something other than based_args[\"extra_args\"][\"<subcommand>\"]"
            );
        }
        if let Some(env) = keyword_bracket(toks, start, end, "env_vars") {
            for entry in elements(toks, env)? {
                match entry {
                    [Token { tok: Tok::Str(key), .. }, Token { tok: Tok::Punct(':'), .. }, ..] => {
                        service.env.push(key.clone())
                    }
                    _ => eyre::bail!("{at}: env_vars entry without a literal key: {entry:?}"),
                }
            }
        }
        for i in start..end.saturating_sub(3) {
            if toks[i].tok == Tok::Ident("PortSpec".into()) {
                let call_end = closing(toks, i + 1)?;
                let number = (i..call_end.saturating_sub(2)).find_map(|j| {
                    (toks[j].tok == Tok::Ident("number".into())
                        && toks[j + 1].tok == Tok::Punct('='))
                    .then(|| toks[j + 2].tok.clone())
                });
                match number {
                    Some(Tok::Ident(c)) => service.port_consts.push(c),
                    other => eyre::bail!(
                        "{at}: PortSpec number must be a *_PORT constant, found {other:?}"
                    ),
                }
            }
        }
        out.push(service);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The package.

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub(crate) fn read(path: &Path) -> eyre::Result<String> {
    std::fs::read_to_string(path).map_err(|e| eyre::eyre!("{}: {e}", path.display()))
}

/// Every `.star` file of the package: (path relative to the repo, source).
fn star_files() -> eyre::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("kurtosis")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "star") {
                let rel = path.strip_prefix(repo())?.display().to_string();
                out.push((rel, read(&path)?));
            }
        }
    }
    out.sort();
    eyre::ensure!(out.iter().any(|(p, _)| p == "kurtosis/main.star"), "no kurtosis/main.star");
    Ok(out)
}

fn network_params() -> eyre::Result<serde_yaml::Value> {
    Ok(serde_yaml::from_str(&read(&repo().join("kurtosis/network_params.yaml"))?)?)
}

/// `based.extra_args` of network_params.yaml: subcommand -> flags.
fn yaml_extra_args(params: &serde_yaml::Value) -> eyre::Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    if let Some(map) = params["based"]["extra_args"].as_mapping() {
        for (key, flags) in map {
            let key = key.as_str().ok_or_else(|| eyre::eyre!("extra_args key"))?.to_string();
            let flags = match flags {
                serde_yaml::Value::Null => Vec::new(),
                serde_yaml::Value::Sequence(seq) => seq
                    .iter()
                    .map(|f| {
                        f.as_str().map(str::to_string).ok_or_else(|| {
                            eyre::eyre!("based.extra_args.{key}: {f:?} is not a string")
                        })
                    })
                    .collect::<eyre::Result<_>>()?,
                other => eyre::bail!("based.extra_args.{key} is not a list: {other:?}"),
            };
            out.insert(key, flags);
        }
    }
    Ok(out)
}

fn parse_flag(text: &str, at: &str) -> eyre::Result<Flag> {
    let flag =
        text.strip_prefix("--").ok_or_else(|| eyre::eyre!("{at}: `{text}` is not a --flag"))?;
    let (name, has_value) = match flag.split_once('=') {
        Some((name, _)) => (name, true),
        None => (flag, false),
    };
    Ok(Flag { name: format!("--{name}"), has_value, port_const: None, at: at.to_string() })
}

/// Checks one service's command line, env vars and ports against `based <subcommand> --help`.
fn check_service(
    service: &Service,
    extra: &[Flag],
    consts: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> eyre::Result<()> {
    let page = match subcommand(&service.subcommand) {
        Ok(page) => page,
        Err(e) => {
            problems.push(format!("{}: {e}", service.at));
            return Ok(());
        }
    };
    let sub = service.subcommand.join(" ");
    let mut seen = BTreeSet::new();
    let mut cmd_ports = BTreeSet::new();
    for flag in service.flags.iter().chain(extra) {
        let Some(opt) = page.options.get(&flag.name) else {
            problems.push(format!("{}: `based {sub}` has no flag {}", flag.at, flag.name));
            continue;
        };
        if flag.has_value != opt.takes_value {
            problems.push(format!(
                "{}: {} {} a value in `based {sub}`",
                flag.at,
                flag.name,
                if opt.takes_value { "takes" } else { "takes no" }
            ));
        }
        if !seen.insert(flag.name.clone()) {
            problems.push(format!("{}: {} given twice to `based {sub}`", flag.at, flag.name));
        }
        if flag.name.ends_with(".key") || flag.name.ends_with("-key") {
            problems.push(format!(
                "{}: {} puts a private key on the command line; use {}",
                flag.at,
                flag.name,
                opt.env.as_deref().unwrap_or("its environment variable")
            ));
        }
        if let Some(c) = &flag.port_const {
            let value: Option<u16> = consts.get(c).and_then(|v| v.parse().ok());
            match (value, default_port(opt)) {
                (Some(port), Some(default)) if port == default => {
                    cmd_ports.insert(c.clone());
                }
                // A listener that is off by default (`--metrics.addr`): the package picks its port.
                (Some(_), None) if opt.default.is_none() => {
                    cmd_ports.insert(c.clone());
                }
                (value, default) => problems.push(format!(
                    "{}: {} uses {c} = {value:?}, the binary's default port is {default:?}",
                    flag.at, flag.name
                )),
            }
        }
    }
    for var in &service.env {
        if !page.env_vars.contains(var) {
            problems.push(format!(
                "{}: `based {sub}` reads no environment variable {var} (it reads: {:?})",
                service.at, page.env_vars
            ));
        }
    }
    for required in &page.required {
        let given = seen.contains(required)
            || page
                .options
                .get(required)
                .and_then(|o| o.env.as_ref())
                .is_some_and(|e| service.env.iter().any(|v| v == e));
        if !given {
            problems.push(format!("{}: `based {sub}` requires {required}", service.at));
        }
    }
    for c in &service.port_consts {
        if !cmd_ports.contains(c) {
            problems.push(format!(
                "{}: exposes {c}, which is not the port its command line passes",
                service.at
            ));
        }
    }
    Ok(())
}

#[test]
fn package_uses_only_real_subcommands_flags_env_vars_and_ports() -> eyre::Result<()> {
    let files = star_files()?;
    let params = network_params()?;
    let yaml_extra = yaml_extra_args(&params)?;
    let mut consts = BTreeMap::new();
    let mut all_services = Vec::new();
    let mut problems = Vec::new();
    let mut based_vars = BTreeSet::new();
    for (file, src) in &files {
        consts.extend(constants(src));
        let toks = tokenize(src).map_err(|e| eyre::eyre!("{file}: {e}"))?;
        let found = services(file, &toks)?;
        let flags_in_services: usize = found.iter().map(|s| s.flags.len()).sum();
        let flag_strings =
            toks.iter().filter(|t| matches!(&t.tok, Tok::Str(s) if s.starts_with("--")));
        if flag_strings.count() != flags_in_services {
            problems.push(format!(
                "{file}: a \"--flag\" string outside a ServiceConfig cmd=[...] list (unchecked)"
            ));
        }
        for t in &toks {
            if let Tok::Str(s) = &t.tok
                && s.starts_with("BASED_")
                && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                based_vars.insert((s.clone(), format!("{file}:{}", t.line)));
            }
        }
        all_services.extend(found);
    }

    // The topology the docs promise: two nodes (one config, instantiated node_count times), a
    // proposer and a gateway.
    let subcommands: BTreeSet<String> =
        all_services.iter().map(|s| s.subcommand.join(" ")).collect();
    for expected in ["node", "proposer", "gateway"] {
        eyre::ensure!(subcommands.contains(expected), "the package runs no `based {expected}`");
    }

    for service in &all_services {
        let sub = service.subcommand.join(" ");
        let extra = match &service.extra_args_key {
            Some(key) => {
                if *key != sub {
                    problems
                        .push(format!("{}: `based {sub}` takes extra_args[\"{key}\"]", service.at));
                }
                yaml_extra
                    .get(key)
                    .map(|flags| {
                        flags
                            .iter()
                            .map(|f| {
                                parse_flag(
                                    f,
                                    &format!("network_params.yaml based.extra_args.{key}"),
                                )
                            })
                            .collect::<eyre::Result<Vec<_>>>()
                    })
                    .transpose()?
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        check_service(service, &extra, &consts, &mut problems)?;
    }
    for key in yaml_extra.keys() {
        if !all_services.iter().any(|s| s.extra_args_key.as_deref() == Some(key.as_str())) {
            problems
                .push(format!("network_params.yaml: based.extra_args.{key} is used by no service"));
        }
    }

    // Every BASED_* name in the package is read by some subcommand (at any depth:
    // `based validator opt-in` reads BASED_VALIDATOR_COMMITTER).
    let mut known_vars = BTreeSet::new();
    let mut paths: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = paths.pop() {
        let page = help(&path)?;
        known_vars.extend(page.env_vars.iter().cloned());
        for sub in page.subcommands.iter().filter(|s| *s != "help") {
            let mut deeper = path.clone();
            deeper.push(sub.clone());
            paths.push(deeper);
        }
    }
    for (var, at) in &based_vars {
        if !known_vars.contains(var) {
            problems.push(format!("{at}: {var} is not an environment variable of `based`"));
        }
    }

    eyre::ensure!(
        problems.is_empty(),
        "the Kurtosis package disagrees with the CLI:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

#[test]
fn package_arguments_and_pins_are_consistent() -> eyre::Result<()> {
    let files = star_files()?;
    let params = network_params()?;
    let mut problems = Vec::new();

    // `based:` keys of the YAML are the package's DEFAULTS keys.
    let (based_file, based_src) = files
        .iter()
        .find(|(_, src)| src.contains("\nDEFAULTS = {"))
        .ok_or_else(|| eyre::eyre!("no DEFAULTS in the package"))?;
    let toks = tokenize(based_src)?;
    let open = (0..toks.len() - 2)
        .find(|&i| {
            toks[i].tok == Tok::Ident("DEFAULTS".into())
                && toks[i + 1].tok == Tok::Punct('=')
                && toks[i + 2].tok == Tok::Punct('{')
        })
        .map(|i| i + 2)
        .ok_or_else(|| eyre::eyre!("{based_file}: DEFAULTS is not a dict"))?;
    let defaults: BTreeSet<String> = elements(&toks, open)?
        .iter()
        .filter_map(|e| match e.first().map(|t| &t.tok) {
            Some(Tok::Str(k)) => Some(k.clone()),
            _ => None,
        })
        .collect();
    let based = params["based"]
        .as_mapping()
        .ok_or_else(|| eyre::eyre!("network_params.yaml has no `based:` section"))?;
    for key in based.keys() {
        let key = key.as_str().unwrap_or_default();
        if !defaults.contains(key) {
            problems.push(format!(
                "network_params.yaml: based.{key} is not a key of {based_file} DEFAULTS {defaults:?}"
            ));
        }
    }

    // The ethereum-package half: the L1 the docs describe.
    let participants = params["participants"]
        .as_sequence()
        .ok_or_else(|| eyre::eyre!("network_params.yaml: no participants"))?;
    eyre::ensure!(!participants.is_empty(), "network_params.yaml: no participants");
    for p in participants {
        for (key, want) in [("el_type", "reth"), ("cl_type", "lighthouse")] {
            if p[key].as_str() != Some(want) {
                problems
                    .push(format!("network_params.yaml: participant {key} is not {want}: {p:?}"));
            }
        }
    }
    if params["network_params"]["electra_fork_epoch"].as_u64() != Some(0) {
        problems.push("network_params.yaml: Electra (Prague) is not active from genesis".into());
    }
    // Under Fulu (Osaka) the execution clients take only EIP-7594 sidecars: the proposer must not
    // be pinned to EIP-4844 then.
    let fulu_scheduled =
        params["network_params"]["fulu_fork_epoch"].as_u64().is_some_and(|e| e < u64::MAX);
    let proposer_flags = params["based"]["extra_args"]["proposer"]
        .as_sequence()
        .map(|f| f.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    if fulu_scheduled && proposer_flags.iter().any(|f| f.ends_with("blob-sidecar=eip4844")) {
        problems.push(
            "network_params.yaml: Fulu is scheduled but the proposer is pinned to EIP-4844 sidecars"
                .into(),
        );
    }

    // Pins: a released ethereum-package tag, a foundry version tag.
    let main = &files.iter().find(|(p, _)| p == "kurtosis/main.star").expect("main.star").1;
    let import = main
        .split('"')
        .find(|s| s.starts_with("github.com/ethpandaops/ethereum-package/"))
        .ok_or_else(|| eyre::eyre!("main.star does not import the ethereum-package"))?;
    let tag = import.rsplit_once('@').map(|(_, t)| t).unwrap_or_default();
    if !(tag.split('.').count() == 3 && tag.split('.').all(|p| p.parse::<u32>().is_ok())) {
        problems.push(format!(
            "main.star: the ethereum-package import `{import}` is not pinned to a release tag"
        ));
    }
    for key in ["foundry_image", "image"] {
        let image = params["based"][key].as_str().unwrap_or_default();
        if image.is_empty() || !image.contains(':') || image.ends_with(":latest") {
            problems.push(format!("network_params.yaml: based.{key} `{image}` is not pinned"));
        }
    }

    // The constructor signatures the package deploys with are the artifacts' ABI.
    for (file, src) in &files {
        for (name, value) in constants(src) {
            let Some(contract) = name.strip_suffix("_CONSTRUCTOR") else { continue };
            // `PRECONF_SLASHER` names `PreconfSlasher`.
            let contract: String = contract
                .split('_')
                .map(|w| format!("{}{}", &w[..1], w[1..].to_lowercase()))
                .collect();
            let artifact: serde_json::Value = serde_json::from_str(&read(
                &repo().join(format!("contracts/out/{contract}.json")),
            )?)?;
            let ctor = artifact["abi"]
                .as_array()
                .and_then(|abi| abi.iter().find(|e| e["type"] == "constructor"))
                .ok_or_else(|| eyre::eyre!("{contract}.json has no constructor"))?;
            let sig = format!("constructor({})", abi_types(&ctor["inputs"]));
            if value != sig {
                problems.push(format!(
                    "{file}: {name} is `{value}`, contracts/out/{contract}.json says `{sig}`"
                ));
            }
        }
    }

    eyre::ensure!(
        problems.is_empty(),
        "the Kurtosis package is inconsistent:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

/// Canonical ABI types of a parameter list (tuples expanded).
fn abi_types(params: &serde_json::Value) -> String {
    params
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let ty = p["type"].as_str().unwrap_or_default();
                    match ty.strip_prefix("tuple") {
                        Some(suffix) => format!("({}){suffix}", abi_types(&p["components"])),
                        None => ty.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile.

/// Instructions of a Dockerfile: (KEYWORD, arguments), continuation lines joined.
fn dockerfile_instructions(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in src.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(part) = t.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (kw, args) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
        out.push((kw.to_uppercase(), args.trim().to_string()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_matches_the_repository_and_the_binary() -> eyre::Result<()> {
    let root = repo();
    let docker = dockerfile_instructions(&read(&root.join("Dockerfile"))?);
    let ignore = read(&root.join(".dockerignore"))?;
    let ignored: Vec<&str> =
        ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let mut problems = Vec::new();

    // The toolchain pin is the workspace's rust-version.
    let cargo_toml = read(&root.join("Cargo.toml"))?;
    let rust_version = cargo_toml
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .ok_or_else(|| eyre::eyre!("no rust-version in Cargo.toml"))?;
    let rust_images: Vec<&String> = docker
        .iter()
        .filter(|(kw, args)| kw == "FROM" && args.starts_with("rust:"))
        .map(|(_, args)| args)
        .collect();
    eyre::ensure!(!rust_images.is_empty(), "the Dockerfile builds with no rust: image");
    for image in rust_images {
        let tag = image.split_whitespace().next().unwrap_or_default().trim_start_matches("rust:");
        let version = tag.split('-').next().unwrap_or_default();
        if version != rust_version && !version.starts_with(&format!("{rust_version}.")) {
            problems.push(format!(
                "Dockerfile: FROM {image}: not the workspace's rust-version {rust_version}"
            ));
        }
    }

    // The built package is a workspace member, built locked and released.
    let build = docker
        .iter()
        .find(|(kw, args)| kw == "RUN" && args.contains("cargo build"))
        .map(|(_, args)| args.clone())
        .ok_or_else(|| eyre::eyre!("the Dockerfile runs no cargo build"))?;
    for flag in ["--release", "--locked"] {
        if !build.split_whitespace().any(|w| w == flag) {
            problems.push(format!("Dockerfile: cargo build without {flag}"));
        }
    }
    let words: Vec<&str> = build.split_whitespace().collect();
    let package = words
        .iter()
        .position(|w| *w == "-p" || *w == "--package")
        .and_then(|i| words.get(i + 1))
        .ok_or_else(|| eyre::eyre!("Dockerfile: cargo build without -p"))?;
    let mut members = BTreeSet::new();
    for dir in ["bin", "crates"] {
        for entry in std::fs::read_dir(root.join(dir))? {
            let manifest = entry?.path().join("Cargo.toml");
            if let Ok(text) = std::fs::read_to_string(&manifest)
                && let Some(name) = text.lines().find_map(|l| l.strip_prefix("name = "))
            {
                members.insert(name.trim_matches('"').to_string());
            }
        }
    }
    if !members.contains(*package) {
        problems.push(format!("Dockerfile: -p {package} is not a workspace package"));
    }

    // Copied paths exist and are in the build context; the artifacts land where the package looks.
    let mut copied_to = BTreeMap::new();
    for (kw, args) in &docker {
        if kw != "COPY" || args.contains("--from=") {
            continue;
        }
        let parts: Vec<&str> = args.split_whitespace().filter(|p| !p.starts_with("--")).collect();
        let Some((dest, sources)) = parts.split_last() else { continue };
        for src in sources {
            if !root.join(src).exists() {
                problems.push(format!("Dockerfile: COPY {src}: no such path in the repository"));
            }
            if ignored.iter().any(|i| src == i || src.starts_with(&format!("{i}/"))) {
                problems.push(format!("Dockerfile: COPY {src} is excluded by .dockerignore"));
            }
            copied_to.insert(src.to_string(), dest.to_string());
        }
    }
    for needed in ["chain-specs", "contracts/out"] {
        if !copied_to.contains_key(needed) {
            problems.push(format!("Dockerfile: the image does not carry {needed}"));
        }
    }
    let star_consts: BTreeMap<String, String> =
        star_files()?.iter().flat_map(|(_, src)| constants(src)).collect();
    let artifacts_dir = star_consts.get("CONTRACTS_DIR_IN_IMAGE").cloned().unwrap_or_default();
    let runtime_artifacts = docker
        .iter()
        .filter(|(kw, args)| kw == "COPY" && !args.contains("--from="))
        .filter_map(|(_, args)| args.strip_prefix("contracts/out "))
        .map(str::trim)
        .next_back()
        .unwrap_or_default();
    if artifacts_dir != runtime_artifacts {
        problems.push(format!(
            "the package reads the artifacts at {artifacts_dir:?}, the image has them at {runtime_artifacts:?}"
        ));
    }

    // Not root.
    match docker.iter().rev().find(|(kw, _)| kw == "USER") {
        Some((_, user)) if user != "root" && user != "0" => {}
        other => problems.push(format!("Dockerfile: the image runs as root ({other:?})")),
    }

    // EXPOSE = the binary's default ports.
    let exposed: BTreeSet<u16> = docker
        .iter()
        .filter(|(kw, _)| kw == "EXPOSE")
        .flat_map(|(_, args)| {
            args.split_whitespace().map(|p| p.split('/').next().unwrap_or(p).to_string())
        })
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut defaults = BTreeSet::new();
    for (sub, flag) in
        [("node", "--http.port"), ("proposer", "--http.addr"), ("gateway", "--http.addr")]
    {
        let opt = help(&[sub.to_string()])?
            .options
            .get(flag)
            .ok_or_else(|| eyre::eyre!("`based {sub}` has no {flag}"))?;
        defaults.insert(
            default_port(opt)
                .ok_or_else(|| eyre::eyre!("`based {sub} {flag}` has no default port"))?,
        );
    }
    if exposed != defaults {
        problems.push(format!(
            "Dockerfile: EXPOSE {exposed:?}, the binary's default ports are {defaults:?}"
        ));
    }

    eyre::ensure!(
        problems.is_empty(),
        "the Dockerfile disagrees with the repository:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

#[test]
fn help_parser_reads_clap_output() {
    let page = HelpPage::parse(
        "About\n\nUsage: based gateway [OPTIONS] --l1.genesis-time <GENESIS_TIME>\n\nOptions:\n      \
         --chain <CHAIN>  Chain [env: BASED_CHAIN=] [default: devnet]\n      --l1.show-output  \
         Show\n  -h, --help  Print help\n\nL1:\n      --http.addr <ADDR>\n          Listen \
         address [env: BASED_HTTP_ADDR=x] [default: 127.0.0.1:8547]\n",
    );
    assert_eq!(page.required, vec!["--l1.genesis-time".to_string()]);
    let chain = &page.options["--chain"];
    assert!(chain.takes_value);
    assert_eq!(chain.env.as_deref(), Some("BASED_CHAIN"));
    assert_eq!(chain.default.as_deref(), Some("devnet"));
    assert!(!page.options["--l1.show-output"].takes_value);
    assert!(page.options.contains_key("--help"));
    assert_eq!(default_port(&page.options["--http.addr"]), Some(8547));
    assert_eq!(page.options["--http.addr"].env.as_deref(), Some("BASED_HTTP_ADDR"));
}

/// Every PromQL expression of the dashboard's panels.
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dashboard];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(expr)) = map.get("expr") {
                    out.push(expr.clone());
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

#[test]
fn dashboard_parses_and_uses_only_exported_metrics() -> eyre::Result<()> {
    let path = repo().join("kurtosis/static_files/grafana/based.json");
    let dashboard: serde_json::Value = serde_json::from_str(&read(&path)?)?;
    let panels = dashboard["panels"].as_array().map_or(0, Vec::len);
    eyre::ensure!(panels >= 10, "{}: {panels} panels", path.display());
    let exprs = dashboard_exprs(&dashboard);
    eyre::ensure!(exprs.len() >= panels, "a panel without a query");
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for expr in &exprs {
        let names = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("based_"));
        for name in names {
            match based_metrics::names::lookup(name) {
                Some(metric) => {
                    used.insert(metric.name);
                }
                None => problems.push(format!("`{expr}`: `{name}` is not a metric of `based`")),
            }
        }
    }
    // Every metric the binary exports has a panel.
    for metric in based_metrics::names::ALL {
        if !used.contains(metric.name) {
            problems.push(format!("no panel shows {}", metric.name));
        }
    }
    // The package loads it: Grafana provisions the directory the dashboard is in.
    let files = star_files()?;
    let loaded = files.iter().any(|(_, src)| src.contains("kurtosis/static_files/grafana\""));
    if !loaded {
        problems.push("no .star file hands static_files/grafana to Grafana".into());
    }
    eyre::ensure!(problems.is_empty(), "dashboard:\n  {}", problems.join("\n  "));
    Ok(())
}
