//! The `maiac` command-line driver.
fn main() {}
