//! The `faultline` binary: a thin shell over [`cli`], which turns raw
//! arguments into a validated plan and maps outcomes to exit codes.
mod cli;

/// See the `mimalloc` feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::main());
}
