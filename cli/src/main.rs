//! The `faultline` binary: a thin shell over [`faultline::cli`], which
//! turns raw arguments into a validated plan and maps outcomes to exit
//! codes. A crate with protocols of its own writes the same few lines with
//! `faultline::cli::main_with(registry)`.

/// The command allocates with mimalloc (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(faultline::cli::main());
}
