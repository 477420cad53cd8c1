//! `faultline merge`: combines the `explore --json` reports of the shards
//! of one sweep into the report of the whole sweep. A set with a shard
//! missing is an error (exit 2) unless `--allow-incomplete`: a partial
//! sweep must not pass CI by accident.

use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION};
use crate::explore::{ExploreReport, Shard};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `faultline merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard reports (`explore --json` output or `explore.json`).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Merge even when some shards of the sweep are missing (the result
    /// covers only the shards given, and says so).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Exit 0 when nothing failed but some seeds were undecided.
    #[arg(long)]
    pub allow_undecided: bool,
}

/// Runs `faultline merge` and returns its exit code.
pub fn run(args: MergeArgs) -> i32 {
    let mut reports = Vec::new();
    for path in &args.reports {
        match read_report(path) {
            Ok(r) => reports.push(r),
            Err(message) => return bad_input(&message),
        }
    }
    if let Some(message) = duplicated(&args.reports, &reports) {
        return bad_input(&message);
    }
    let merged = match ExploreReport::merge(reports) {
        Ok(m) => m,
        Err(e) => return bad_input(&e),
    };
    let missing = merged.missing_shards();
    if !missing.is_empty() && !args.allow_incomplete {
        return bad_input(&format!(
            "incomplete sweep: shard{} {} {} missing (pass --allow-incomplete to merge what is here)",
            if missing.len() == 1 { "" } else { "s" },
            names(&missing),
            if missing.len() == 1 { "is" } else { "are" },
        ));
    }
    if args.json {
        let mut value = serde_json::json!(merged);
        value["missing_shards"] = serde_json::json!(missing);
        println!("{value}");
    } else {
        print!("{}", human(&merged, &missing));
    }
    match merged.verdict.as_str() {
        "pass" => EXIT_OK,
        "undecided" if args.allow_undecided => EXIT_OK,
        "undecided" => EXIT_UNKNOWN,
        _ => EXIT_VIOLATION,
    }
}

fn bad_input(message: &str) -> i32 {
    eprintln!("error: {message}");
    EXIT_BAD_INPUT
}

fn read_report(path: &std::path::Path) -> Result<ExploreReport, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str::<ExploreReport>(&text).map_err(|e| {
        format!(
            "{}:{}:{}: expected an `explore --json` report: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// A shard given twice, named with both files.
fn duplicated(paths: &[PathBuf], reports: &[ExploreReport]) -> Option<String> {
    for (i, a) in reports.iter().enumerate() {
        for (j, b) in reports.iter().enumerate().skip(i + 1) {
            if let Some(shard) = a.shards.iter().find(|s| b.shards.contains(s)) {
                return Some(format!(
                    "shard {shard} appears twice: in {} and in {}",
                    paths[i].display(),
                    paths[j].display()
                ));
            }
        }
    }
    None
}

fn names(shards: &[Shard]) -> String {
    shards
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn human(merged: &ExploreReport, missing: &[Shard]) -> String {
    let mut out = format!(
        "merged      {} ({}), seeds {}: {} run\n",
        merged.scenario, merged.file, merged.seeds, merged.seeds_run
    );
    if !missing.is_empty() {
        out += &format!(
            "incomplete  missing shards {}: these results cover only shards {}\n",
            names(missing),
            names(&merged.shards)
        );
    }
    out += &format!("failures    {} seeds\n", merged.failures.len());
    for (check, f) in &merged.by_check {
        out += &format!(
            "  {check:<28} {} seeds, first {}: {}\n",
            f.count, f.first_seed, f.replay
        );
    }
    if !merged.undecided.is_empty() {
        out += &format!("undecided   {} seeds\n", merged.undecided.len());
        for (check, f) in &merged.by_check_undecided {
            out += &format!(
                "  {check:<28} {} seeds, first {}: {}\n",
                f.count, f.first_seed, f.replay
            );
        }
    }
    out += &format!("verdict     {}\n", merged.verdict.to_uppercase());
    out
}
