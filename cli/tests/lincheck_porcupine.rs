//! Agreement with Porcupine's data: every history in the porcupine folder
//! (102 Jepsen etcd logs checked as a cas-register, 6 kv histories) gets the
//! verdict listed in its verdicts.csv, and kv/c50-bad yields a counterexample
//! within the default step budget and 1 GB. The data is read from the folder
//! named by FAULTLINE_PORCUPINE_DATA; it is never copied into the repo.
use faultline::check::history::parse_file;
use faultline::check::{check_history, CheckOptions, ModelKind, Verdict, DEFAULT_STEPS};
use std::io::Write;
use std::path::PathBuf;

const ENV: &str = "FAULTLINE_PORCUPINE_DATA";

/// The data folder, or `None` (with a note) when the variable is unset.
/// Panics when the variable is set but the data is not there.
fn data_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os(ENV) else {
        // Written to stderr directly so the harness does not capture it.
        let note = format!("note: {ENV} is not set; skipping the Porcupine agreement tests. Run: {ENV}=../shared/data/porcupine cargo test\n");
        let _ = std::io::stderr().write_all(note.as_bytes());
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("verdicts.csv").is_file(),
        "{ENV}={} but {}/verdicts.csv is missing",
        dir.display(),
        dir.display()
    );
    Some(dir)
}

struct Row {
    file: String,
    ops: usize,
    linearizable: bool,
}

fn rows(dir: &std::path::Path) -> Vec<Row> {
    let csv = std::fs::read_to_string(dir.join("verdicts.csv")).expect("read verdicts.csv");
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let linearizable = match cols.get(2).copied() {
                Some("Ok") => true,
                Some("Illegal") => false,
                _ => return None,
            };
            Some(Row {
                file: cols[0].to_string(),
                ops: cols[1].parse().expect("ops column"),
                linearizable,
            })
        })
        .collect()
}

fn model_for(file: &str) -> ModelKind {
    if file.starts_with("kv/") {
        ModelKind::Kv
    } else {
        ModelKind::CasRegister
    }
}

#[test]
fn every_history_gets_porcupines_verdict() {
    let Some(dir) = data_dir() else { return };
    let rows = rows(&dir);
    assert_eq!(rows.len(), 108, "102 etcd + 6 kv histories with verdicts");
    let mut wrong = Vec::new();
    for row in &rows {
        let history = parse_file(&dir.join(&row.file), None).unwrap_or_else(|e| panic!("{e}"));
        let invocations = history.ops.len() + history.failed;
        assert_eq!(invocations, row.ops, "{}: invocation count", row.file);
        let report = check_history(model_for(&row.file), &history, &CheckOptions::default())
            .expect("model fits");
        let got = match report.verdict {
            Verdict::Linearizable => Some(true),
            Verdict::Illegal(_) => Some(false),
            Verdict::Unknown(_) => None,
        };
        if got != Some(row.linearizable) {
            wrong.push(format!(
                "{}: expected {}, got {got:?}",
                row.file, row.linearizable
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "verdicts differ from Porcupine's:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn c50_bad_counterexample_within_bounds() {
    let Some(dir) = data_dir() else { return };
    let history = parse_file(&dir.join("kv/c50-bad.txt"), None).expect("parse c50-bad");
    let opts = CheckOptions {
        steps_max: Some(DEFAULT_STEPS),
        memory_bytes_max: 1 << 30,
        threads: 0,
        deadline: None,
        ..CheckOptions::default()
    };
    let report = check_history(ModelKind::Kv, &history, &opts).expect("model fits");
    let Verdict::Illegal(cx) = report.verdict else {
        panic!("expected Illegal, got {:?}", report.verdict);
    };
    assert!(cx.key.is_some(), "kv counterexamples name the key");
    assert!(!cx.cannot_place.is_empty(), "some op cannot be placed");
    assert!(report.steps <= DEFAULT_STEPS, "{} steps", report.steps);
    let text = cx.to_string();
    assert!(text.contains("not linearizable"), "{text}");
}
