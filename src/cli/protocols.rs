//! `faultline protocols`: the protocols scenario files may name (the
//! built-ins, and a crate's own under `main_with`), with their options
//! tables, checks, roles, message kinds and code-level fault points.

use super::EXIT_OK;
use crate::protocols::{Registry, ENGINE_CHECKS, QUIESCENCE_CHECK};
use clap::Args;
use serde_json::json;

/// Arguments of `faultline protocols`.
#[derive(Args, Debug)]
pub struct ProtocolsArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `faultline protocols` and returns its exit code.
pub fn run(args: ProtocolsArgs, registry: &Registry) -> i32 {
    let entries = registry.entries();
    if args.json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.name(),
                    "about": e.about(),
                    "tables": e.tables(),
                    "checks": e.checks(),
                    "roles": e.roles(),
                    "tags": e.tags(),
                    "client_processes": e.client_processes(),
                    "message_kinds": e.message_kinds(),
                    "buggify_points": e.buggify_points(),
                    "quiescent": e.quiescent(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({"protocols": list, "engine_checks": ENGINE_CHECKS})
        );
        return EXIT_OK;
    }
    for e in entries {
        let tables: Vec<String> = e.tables().iter().map(|t| format!("[{t}]")).collect();
        println!("{:<10} {}", e.name(), e.about());
        println!("{:<10} options {}", "", tables.join(" "));
        let checks: Vec<String> = e
            .checks()
            .iter()
            .map(|c| format!("{} ({})", c.name, c.kind.name()))
            .collect();
        println!("{:<10} checks  {}", "", checks.join(", "));
        if !e.roles().is_empty() {
            println!("{:<10} roles   {}", "", e.roles().join(", "));
        }
        if !e.tags().is_empty() {
            println!("{:<10} tags    {}", "", e.tags().join(", "));
        }
        if !e.buggify_points().is_empty() {
            println!("{:<10} buggify {}", "", e.buggify_points().join(", "));
        }
        if e.quiescent() {
            println!("{:<10} goes quiet: {} judges it", "", QUIESCENCE_CHECK.name);
        }
    }
    println!(
        "every protocol also has the engine's checks: {}",
        ENGINE_CHECKS
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    EXIT_OK
}
