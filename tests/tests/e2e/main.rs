//! End-to-end scenarios, one per file, built as **one** test binary: one link and one copy on disk
//! instead of one per scenario (each links the whole node, gateway and devnet). Every scenario that
//! starts servers holds [`based_tests::serial`] for its whole run, so they run one at a time (two
//! devnets on a 2-core machine would race their timeouts) while libtest's other thread runs the
//! static checks. Run one with `cargo test -p based-tests --test e2e <scenario>::`.

mod bad_proposals;
mod beacon_sources;
mod chain_spec_rules;
mod client_compat;
mod config_and_keys;
mod crash_points;
mod crash_restart;
mod deposits_and_forced_inclusion;
mod devnet_page;
mod docs_commands;
mod escape_hatch;
mod gateway_preconf;
mod gateway_restart;
mod gateway_under_load;
mod kurtosis_package;
mod kurtosis_scripts;
mod l1_reorg;
mod l2_transfer;
mod lookahead_contest;
mod metrics;
mod opt_in_sequencing;
mod osaka_l1;
mod repeated_deposits;
mod slashing;
mod two_nodes_agree;
mod validator_cli;
