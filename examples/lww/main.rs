//! A protocol from a crate of its own, with the whole faultline CLI: this
//! `main` registers the last-writer-wins register of `lww.rs` beside the
//! built-in protocols.
//!
//! ```sh
//! cargo run --release --example lww -- run examples/lww/lww-partitions.toml
//! cargo run --release --example lww -- explore examples/lww/lww-bug.toml --seeds 0..200
//! cargo run --release --example lww -- shrink examples/lww/lww-bug.toml --seed 0
//! ```
mod lww;

fn main() {
    let registry = faultline::protocols::Registry::builtin()
        .with(lww::LwwDef)
        .program("cargo run --release --example lww --");
    std::process::exit(faultline::cli::main_with(registry));
}
