//! `based slash`: evidence tooling for broken promises (docs/slashing.md).
//!
//! Reads a signed commitment (Commitments API JSON, as `commitmentResult` returns it) from a file
//! or stdin, judges it against L1 as the `PreconfSlasher` would, and sends the challenge, the
//! defence or the slash. The key that pays comes from a keystore with a password file or the
//! `BASED_SLASH_KEY` environment variable, never a flag value (`check` needs none).

use alloy_primitives::{Address, B256};
use based_commitments::SignedCommitment;
use based_keystore::ecdsa_signer;
use based_watchtower::{Judge, Verdict};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use std::{io::Read, path::PathBuf};

/// `based slash` arguments.
#[derive(Debug, Args)]
pub(crate) struct SlashArgs {
    /// L1 execution client JSON-RPC URL.
    #[arg(long = "l1.rpc-url", env = "BASED_L1_RPC_URL", default_value = "http://127.0.0.1:8545")]
    l1_rpc_url: String,
    /// The `PreconfSlasher` contract.
    #[arg(long = "slasher", env = "BASED_SLASHER")]
    slasher: Address,
    /// Web3 Secret Storage keystore of the paying key (else `BASED_SLASH_KEY`).
    #[arg(long = "slash.keystore", env = "BASED_SLASH_KEYSTORE")]
    keystore: Option<PathBuf>,
    /// File holding the keystore's password.
    #[arg(long = "slash.password-file", env = "BASED_SLASH_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    #[command(subcommand)]
    action: SlashAction,
}

#[derive(Debug, Subcommand)]
enum SlashAction {
    /// Judge the commitment from L1 (kept, broken, or not final yet) and show its challenge.
    Check {
        /// File with the signed commitment JSON (`-` = stdin).
        commitment: PathBuf,
    },
    /// Open a challenge of a broken promise (pays the bond).
    Challenge {
        /// File with the signed commitment JSON (`-` = stdin).
        commitment: PathBuf,
    },
    /// Defend the challenge of a kept promise with the proof from its promised record.
    Defend {
        /// File with the signed commitment JSON (`-` = stdin).
        commitment: PathBuf,
    },
    /// Slash the undefended challenge after its deadline.
    Collect {
        /// File with the signed commitment JSON (`-` = stdin).
        commitment: PathBuf,
    },
    /// Slash a promise for a slot its signer did not own.
    NotOwned {
        /// File with the signed commitment JSON (`-` = stdin).
        commitment: PathBuf,
        /// The validator key (pubkeyHash) to slash; default: one that had delegated to the signer.
        #[arg(long = "validator.pubkey-hash")]
        pubkey_hash: Option<B256>,
    },
}

fn read_commitment(path: &PathBuf) -> eyre::Result<SignedCommitment> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path).wrap_err_with(|| path.display().to_string())?;
    }
    let value: serde_json::Value = serde_json::from_str(&text).wrap_err("commitment JSON")?;
    // Accept a bare SignedCommitment or a JSON-RPC answer wrapping one.
    let value = value.get("result").cloned().unwrap_or(value);
    serde_json::from_value(value).wrap_err("not a signed commitment")
}

/// Runs `based slash` (its results are its output: printed on stdout).
#[allow(clippy::print_stdout)]
pub(crate) async fn run(args: SlashArgs) -> eyre::Result<()> {
    let needs_key = !matches!(args.action, SlashAction::Check { .. });
    let key = if needs_key {
        Some(
            ecdsa_signer(
                args.keystore.as_deref(),
                args.password_file.as_deref(),
                "BASED_SLASH_KEY",
            )
            .wrap_err("slash key")?,
        )
    } else {
        None
    };
    let judge = Judge::connect(&args.l1_rpc_url, args.slasher, key).await?;
    let client = judge.client();
    match args.action {
        SlashAction::Check { commitment } => {
            let w = judge.entry(read_commitment(&commitment)?)?;
            let verdict = judge.verdict(&w).await?;
            let challenge = client.challenge(w.digest).await?;
            let out = serde_json::json!({
                "digest": w.digest,
                "committer": w.committer,
                "slot": w.slot,
                "txHash": w.tx_hash,
                "verdict": verdict,
                "challenge": {
                    "status": format!("{:?}", challenge.status),
                    "challenger": challenge.challenger,
                    "deadline": challenge.deadline,
                    "pubkeyHash": challenge.pubkey_hash,
                },
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        SlashAction::Challenge { commitment } => {
            let w = judge.entry(read_commitment(&commitment)?)?;
            match judge.verdict(&w).await? {
                Verdict::Broken { .. } => {}
                other => bail!("not a provably broken promise: {}", serde_json::to_string(&other)?),
            }
            let (id, receipt) = client.open_challenge(&w.signed).await?;
            println!("challenge {id} opened in L1 transaction {}", receipt.transaction_hash);
        }
        SlashAction::Defend { commitment } => {
            let w = judge.entry(read_commitment(&commitment)?)?;
            let Some((kept, _)) = judge.keeping(&w).await? else {
                bail!("no promised record of slot <= {} holds {}", w.slot, w.tx_hash);
            };
            let receipt = client.defend_with(w.digest, &kept).await?;
            println!(
                "challenge {} defended with proposal {} in L1 transaction {}",
                w.digest, kept.proposal_id, receipt.transaction_hash
            );
        }
        SlashAction::Collect { commitment } => {
            let w = judge.entry(read_commitment(&commitment)?)?;
            let receipt = client.slash_lost_challenge(&w.signed).await?;
            println!("slashed in L1 transaction {}", receipt.transaction_hash);
        }
        SlashAction::NotOwned { commitment, pubkey_hash } => {
            let w = judge.entry(read_commitment(&commitment)?)?;
            let key = match pubkey_hash {
                Some(k) => k,
                None => judge
                    .delegating_key(w.committer, w.slot)
                    .await?
                    .ok_or_else(|| eyre!("no validator key delegated to {}", w.committer))?,
            };
            let receipt = client.slash_not_owned(key, &w.signed).await?;
            println!("slashed {key} in L1 transaction {}", receipt.transaction_hash);
        }
    }
    Ok(())
}
