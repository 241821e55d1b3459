//! The `based` command: `based node`, `based proposer`, `based devnet`.

mod cli;

#[allow(clippy::print_stderr)]
fn main() {
    if let Err(err) = cli::run() {
        eprintln!("Error: {err:?}");
        std::process::exit(1);
    }
}
