//! The `based` command: `based node`, `based proposer`, `based gateway`, `based validator`,
//! `based devnet`.

mod cli;
mod config;
mod gateway;
mod secrets;
mod slash;
mod validator;

#[allow(clippy::print_stderr)]
fn main() {
    if let Err(err) = cli::run() {
        eprintln!("Error: {err:?}");
        std::process::exit(1);
    }
}
