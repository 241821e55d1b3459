//! Every `based ...` command line in the operator documentation (`README.md`, `docs/*.md`, fenced
//! shell blocks) uses only subcommands and `--flags` the binary has, as `based <path> --help`
//! lists them (the parser of `kurtosis_package`), with a value where the flag takes one. Docs that
//! name a renamed or removed flag fail here instead of failing an operator.

use crate::kurtosis_package::{HelpPage, help};
use based_tests::{eyre, repo_root};

/// The command lines in fenced `sh`/`bash`/`console` (or unlabelled) blocks of `text` that run `based`
/// (continuation lines joined, comments and a leading `$ ` or environment assignments dropped).
fn based_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut in_block, mut in_shell) = (false, false);
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_shell = !in_block && matches!(lang.trim(), "" | "sh" | "bash" | "console" | "shell");
            in_block = !in_block;
            continue;
        }
        if !in_shell {
            continue;
        }
        let code = trimmed.split(" #").next().unwrap_or_default().trim_start_matches("$ ");
        let (code, continued) = match code.trim_end().strip_suffix('\\') {
            Some(c) => (c, true),
            None => (code, false),
        };
        current.push(' ');
        current.push_str(code.trim());
        if !continued {
            let words: Vec<&str> = current
                .split_whitespace()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .collect();
            let runs_based = words
                .first()
                .is_some_and(|w| *w == "based" || w.ends_with("/based") && !w.ends_with(".sh"));
            if runs_based {
                out.push(words.join(" "));
            }
            current.clear();
        }
    }
    out
}

/// Checks one command line against the binary's help pages; answers the problems found.
fn check(command: &str) -> eyre::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut pages: Vec<&'static HelpPage> = vec![help(&path)?];
    let mut words = command.split_whitespace().skip(1).peekable();
    while let Some(raw) = words.next() {
        // Placeholders and optional parts as the docs write them: `[--dry-run]`, `<addr>`, `...`.
        let word = raw.trim_matches(|c| c == '[' || c == ']');
        if word.is_empty() || word == "..." || word == "|" || word.starts_with('<') {
            continue;
        }
        if let Some(flag) = word.strip_prefix("--") {
            let (name, inline_value) = match flag.split_once('=') {
                Some((n, _)) => (format!("--{n}"), true),
                None => (format!("--{flag}"), false),
            };
            match pages.iter().rev().find_map(|p| p.options.get(&name)) {
                None => problems
                    .push(format!("`{command}`: `based {}` has no flag `{name}`", path.join(" "))),
                Some(opt) if opt.takes_value && !inline_value => {
                    if words.next_if(|w| !w.starts_with("--")).is_none() {
                        problems.push(format!("`{command}`: `{name}` needs a value"));
                    }
                }
                Some(_) => {}
            }
            continue;
        }
        let Some(page) = pages.last() else { break };
        if page.subcommands.contains(word) {
            path.push(word.to_owned());
            pages.push(help(&path)?);
        }
        // Anything else is a positional argument (a file, an id) of the current subcommand.
    }
    Ok(problems)
}

#[test]
fn documented_commands_use_real_subcommands_and_flags() -> eyre::Result<()> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    let (mut checked, mut problems) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        for command in based_commands(&text) {
            checked += 1;
            for p in check(&command)? {
                problems.push(format!("{}: {p}", file.display()));
            }
        }
    }
    // The operator guides hold 15 such command lines (2026-12); a parser that finds none checks
    // nothing.
    eyre::ensure!(checked >= 12, "only {checked} `based` command lines found in the docs");
    eyre::ensure!(problems.is_empty(), "stale commands in the docs:\n{}", problems.join("\n"));
    Ok(())
}

#[test]
fn the_checker_finds_wrong_flags_and_subcommands() -> eyre::Result<()> {
    let text = "```sh\nFOO=1 based node \\\n  --l1.rpc-url http://x \\\n  --no.such-flag 1\n```\n\
                ```json\nbased node --ignored-outside-shell-blocks\n```\n";
    let commands = based_commands(text);
    assert_eq!(commands, vec!["based node --l1.rpc-url http://x --no.such-flag 1"]);
    let problems = check(&commands[0])?;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("no flag `--no.such-flag`"), "{problems:?}");
    assert!(check("based node --l1.rpc-url")?.iter().any(|p| p.contains("needs a value")));
    assert!(check("based gateway --http.addr 127.0.0.1:1 --datadir /x")?.is_empty());
    Ok(())
}

/// docs/node.md "Running against Ethereum", step 1: the devnet spec edited as it says (Sepolia,
/// a deployed Inbox, its start block, 32 slots per epoch, no devnet validators) loads, and reads
/// back as written.
#[test]
fn the_operator_chain_spec_recipe_loads() -> eyre::Result<()> {
    let root = repo_root();
    let guide = std::fs::read_to_string(root.join("docs/node.md"))?;
    for key in ["`l1.chainId`", "`l1.inboxAddress`", "`l1.startBlock`", "`slotsPerEpoch` 32"] {
        eyre::ensure!(guide.contains(key), "docs/node.md no longer says {key}");
    }
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("chain-specs/devnet.json"))?)?;
    let based = &mut spec["config"]["based"];
    based["l1"]["chainId"] = 11_155_111.into();
    based["l1"]["inboxAddress"] = "0x00000000000000000000000000000000000a11ce".into();
    based["l1"]["startBlock"] = 7_000_000.into();
    based["sequencing"]["slotsPerEpoch"] = 32.into();
    based["sequencing"]
        .as_object_mut()
        .ok_or_else(|| eyre::eyre!("no sequencing section"))?
        .remove("devnetValidators");
    let chain = based_chainspec::ChainSpec::from_json(&spec.to_string())?;
    let l1 = chain.l1();
    assert_eq!((l1.chain_id, l1.start_block), (11_155_111, 7_000_000));
    let inbox: alloy_primitives::Address = "0x00000000000000000000000000000000000a11ce".parse()?;
    assert_eq!(l1.inbox_address, inbox);
    assert_eq!(chain.sequencing().slots_per_epoch, 32);
    assert!(chain.sequencing().devnet_validators.is_none());
    Ok(())
}
