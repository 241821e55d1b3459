//! Integration tests against a real anvil (started per test on a free port, killed on drop).
//! One test binary (modules below) to keep link time down.

mod common;
mod inbox;
mod watcher;
