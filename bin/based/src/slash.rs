//! `based slash`: evidence tooling for broken promises (docs/slashing.md) and wrong lookaheads
//! (docs/lookahead.md §5).
//!
//! Reads a signed commitment (Commitments API JSON, as `commitmentResult` returns it) from a file
//! or stdin, judges it against L1 as the `PreconfSlasher` would, and sends the challenge, the
//! defence or the slash. `based slash lookahead --slot S` proves a posted lookahead wrong at slot
//! `S` against the beacon chain (EIP-4788 root, SSZ branches) and slashes its poster. The key that pays comes from a keystore with a password file or the
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
    /// The `PreconfSlasher` contract (every action but `lookahead`).
    #[arg(long = "slasher", env = "BASED_SLASHER")]
    slasher: Option<Address>,
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
    /// Contest the posted lookahead at a slot: prove against the beacon chain's EIP-4788 root that
    /// its entry names the wrong key (or none), which slashes the poster and pays the caller.
    Lookahead {
        /// The contested slot.
        #[arg(long)]
        slot: u64,
        /// The `Lookahead` contract.
        #[arg(long = "lookahead", env = "BASED_LOOKAHEAD")]
        lookahead: Address,
        /// Beacon API URL of a node that still holds the previous epoch's states (read in SSZ from
        /// `/eth/v2/debug/beacon/states/{state_root}`).
        #[arg(long = "l1.beacon-url", env = "BASED_L1_BEACON_URL")]
        beacon_url: String,
        /// Build the evidence and simulate the contest only (no key needed).
        #[arg(long)]
        dry_run: bool,
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
    if let SlashAction::Lookahead { slot, lookahead, beacon_url, dry_run } = &args.action {
        return contest_lookahead(&args, *slot, *lookahead, beacon_url, *dry_run).await;
    }
    let slasher = args.slasher.ok_or_else(|| eyre!("--slasher (or BASED_SLASHER) is required"))?;
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
    let judge = Judge::connect(&args.l1_rpc_url, slasher, key).await?;
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
        SlashAction::Lookahead { .. } => {}
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

/// `based slash lookahead`: finds the evidence, simulates the contest, and (unless `dry_run`) sends
/// it with the slash key.
#[allow(clippy::print_stdout)]
async fn contest_lookahead(
    args: &SlashArgs,
    slot: u64,
    lookahead: Address,
    beacon_url: &str,
    dry_run: bool,
) -> eyre::Result<()> {
    use alloy_provider::ProviderBuilder;
    use based_lookahead::contest;
    let url = args.l1_rpc_url.parse().wrap_err("--l1.rpc-url")?;
    let beacon = based_beacon::BeaconClient::new(based_beacon::BeaconClientConfig::new(vec![
        beacon_url.parse().wrap_err("--l1.beacon-url")?,
    ]));
    let reader = ProviderBuilder::new().connect_http(Clone::clone(&url));
    let spe = {
        use alloy_network::TransactionBuilder;
        use alloy_provider::Provider;
        use alloy_sol_types::SolCall;
        let call = based_contracts::Lookahead::slotsPerEpochCall {};
        let tx = alloy_rpc_types_eth::TransactionRequest::default()
            .with_to(lookahead)
            .with_input(call.abi_encode());
        let out = reader.call(tx).await.wrap_err("reading the Lookahead's slotsPerEpoch")?;
        based_contracts::Lookahead::slotsPerEpochCall::abi_decode_returns(&out)?
    };
    let spe = u64::try_from(spe).map_err(|_| eyre!("slotsPerEpoch out of range"))?;
    let evidence = contest::find_evidence(&beacon, &reader, spe, slot).await?;
    let summary = serde_json::json!({
        "slot": slot,
        "beaconTimestamp": evidence.beacon_timestamp,
        "beaconBlock": { "slot": evidence.header.slot, "root": evidence.header.root() },
        "provenProposerIndex": evidence.lookahead.validator_index,
        "provenProposerPubkeyHash": evidence.proposer.hash(),
    });
    if dry_run {
        contest::simulate(&reader, lookahead, &evidence).await?;
        println!("{}", serde_json::to_string_pretty(&summary)?);
        println!("the contest would succeed (dry run: nothing sent)");
        return Ok(());
    }
    let key =
        ecdsa_signer(args.keystore.as_deref(), args.password_file.as_deref(), "BASED_SLASH_KEY")
            .wrap_err("slash key")?;
    let l1 =
        ProviderBuilder::new().wallet(alloy_network::EthereumWallet::from(key)).connect_http(url);
    let receipt = contest::submit(&l1, lookahead, &evidence).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!(
        "lookahead of slot {slot} contested in L1 transaction {} (gas {})",
        receipt.transaction_hash, receipt.gas_used
    );
    Ok(())
}
