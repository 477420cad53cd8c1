//! Helpers the benchmarks share (each bench target includes this module):
//! this process's CPU time, whole-number command-line options, and a
//! rate's median and range.
// Each benchmark uses a different subset.
#![allow(dead_code)]

/// This process's user + system CPU time in seconds.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15: indices 11 and 12 here.
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0, // USER_HZ is 100 on Linux
        _ => f64::NAN,
    }
}

/// The value after `flag` on the command line, if given.
pub fn option(args: &[String], flag: &str, default: u64) -> u64 {
    match args.iter().position(|a| a == flag) {
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => v,
            None => panic!("{flag} expects a whole number"),
        },
        None => default,
    }
}

/// Prints `name: median M (min-max)` of `rates`.
pub fn summary(name: &str, mut rates: Vec<f64>) {
    rates.sort_by(f64::total_cmp);
    if let (Some(lo), Some(mid), Some(hi)) =
        (rates.first(), rates.get(rates.len() / 2), rates.last())
    {
        println!("{name}: median {mid:.0} ({lo:.0}-{hi:.0})");
    }
}
