//! Seeds per second of `explore` with 1 and 2 worker threads.
//!
//! Run: `cargo bench --bench explore` (optionally with scenario files as
//! arguments after `--`; default: the standard scenarios that exist). Each
//! sweep runs the same seeds; the speed-up is jobs=2 over jobs=1 and should
//! approach the number of cores when nothing else runs on the machine.
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark

use faultline::explore::{explore, ExploreOptions};
use faultline::scenario::Scenario;
use std::path::Path;
use std::time::Instant;

/// The allocator the `faultline` binary uses (cli/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn seeds_per_second(scenario: &Scenario, seeds: &[u64], jobs: usize) -> f64 {
    let options = ExploreOptions {
        jobs: Some(jobs),
        ..ExploreOptions::default()
    };
    let started = Instant::now();
    let outcomes = explore(scenario, seeds, options, &|_| {}).unwrap_or_default();
    assert_eq!(outcomes.len(), seeds.len());
    seeds.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.ends_with(".toml"))
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files: Vec<String> = if args.is_empty() {
        ["raft-calm.toml", "broadcast-lossy-crash.toml"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect()
    } else {
        args
    };
    println!("| scenario | seeds | jobs=1 seeds/s | jobs=2 seeds/s | speed-up |");
    println!("|---|---:|---:|---:|---:|");
    for file in files {
        let Ok(scenario) = Scenario::load(Path::new(&file)) else {
            println!("| {file} | could not load | | | |");
            continue;
        };
        let seeds: Vec<u64> = (0..200).collect();
        let _ = seeds_per_second(&scenario, &seeds[..10], 2); // warm up
        let one = seeds_per_second(&scenario, &seeds, 1);
        let two = seeds_per_second(&scenario, &seeds, 2);
        println!(
            "| {} | {} | {one:.1} | {two:.1} | {:.2}x |",
            scenario.name,
            seeds.len(),
            two / one
        );
    }
}
