//! The `based` command: `based node`, `based proposer`, `based gateway`, `based validator`,
//! `based devnet`.

mod cli;
mod gateway;
mod validator;

#[allow(clippy::print_stderr)]
fn main() {
    if let Err(err) = cli::run() {
        eprintln!("Error: {err:?}");
        std::process::exit(1);
    }
}
