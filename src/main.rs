//! The `faultline` binary: a thin shell over [`cli`], which turns raw
//! arguments into a validated plan and maps outcomes to exit codes.
mod cli;

fn main() {
    std::process::exit(cli::main());
}
