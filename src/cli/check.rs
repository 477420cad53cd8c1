//! `faultline check`: linearizability of a history file (issue 4).
use clap::Args;

/// Arguments of `faultline check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The history file to check.
    pub history: std::path::PathBuf,
}

/// Runs `faultline check` and returns its exit code.
pub fn run(args: CheckArgs) -> i32 {
    eprintln!(
        "faultline check: not implemented yet ({})",
        args.history.display()
    );
    super::EXIT_BAD_INPUT
}
