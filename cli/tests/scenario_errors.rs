//! Bad input gives exit code 2 and a message that says where and what.
//!
//! Each case is a malformed scenario file, written to a temporary file and
//! run through the built `faultline run`. The test asserts exit code 2 and
//! that stderr names the file, the line (`file:LINE:COL`, the line marked
//! `# <- here` in the case text, or no position for whole-file errors), the
//! field at fault where there is one, and a phrase saying what was expected.
//! Bad command-line usage is checked the same way (exit 2). The cases are
//! in `scenario_errors/cases.rs`; the docs' own examples are checked by
//! `scenarios_doc.rs`.

use faultline::scenario::Scenario;

mod common;

use common::faultline;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The marker for the line an error must point at.
const HERE: &str = "# <- here";

/// One malformed scenario and what its error must say.
struct Case {
    /// Names the case in failure messages and in the temp file name.
    name: &'static str,
    /// The file's bytes. The line holding [`HERE`] is the expected line;
    /// without it the error must be about the whole file (no position).
    text: &'static [u8],
    /// The field the message must name (`field `...``), if any.
    field: Option<&'static str>,
    /// A phrase of what was wrong or expected.
    phrase: &'static str,
}

// Every case starts from this four-line head unless it tests the head.
macro_rules! head {
    ($tail:literal) => {
        concat!(
            "name = \"t\"\nprotocol = \"broadcast\"\nnodes = 3\nduration = \"10s\"\n",
            $tail
        )
        .as_bytes()
    };
}

#[path = "scenario_errors/cases.rs"]
mod cases;

use cases::CASES;

fn scratch_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("faultline-scenario-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Writes `bytes` to a fresh file named after `name`.
fn write_scenario(name: &str, bytes: &[u8]) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = scratch_dir().join(format!("{n:03}-{name}.toml"));
    std::fs::write(&path, bytes).expect("write the scenario");
    path
}

/// The 1-based line holding [`HERE`], if any.
fn marked_line(text: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(text);
    text.lines().position(|l| l.contains(HERE)).map(|i| i + 1)
}

/// Problems with `stderr` as the error for `case` in file `path`.
fn check_message(case: &Case, path: &Path, stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let file = path.display().to_string();
    match marked_line(case.text) {
        Some(line) => match position_after(stderr, &file) {
            Some((l, c)) if l == line && c >= 1 => {}
            Some((l, c)) => problems.push(format!("points at {l}:{c}, expected line {line}")),
            None => problems.push(format!("does not name `{file}:{line}:COL`")),
        },
        None => {
            if !stderr.contains(&format!("{file}: ")) {
                problems.push(format!("does not name `{file}: ` without a position"));
            }
        }
    }
    match case.field {
        Some(field) if !stderr.contains(&format!("field `{field}`: ")) => {
            problems.push(format!("does not name field `{field}`"));
        }
        None if stderr.contains("field `") => problems.push("names a field".to_string()),
        _ => {}
    }
    if !stderr.contains(case.phrase) {
        problems.push(format!("lacks the phrase {:?}", case.phrase));
    }
    if stderr.contains("panicked") {
        problems.push("panicked".to_string());
    }
    problems
}

/// `LINE:COL` right after `file:` in `stderr`.
fn position_after(stderr: &str, file: &str) -> Option<(usize, usize)> {
    let rest = &stderr[stderr.find(&format!("{file}:"))? + file.len() + 1..];
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    Some((line, column))
}

#[test]
fn every_malformed_scenario_exits_2_naming_file_line_field_and_expectation() {
    let mut failures = Vec::new();
    for case in CASES {
        let path = write_scenario(case.name, case.text);
        let out = faultline(&["run", path.to_str().expect("a UTF-8 temp path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = check_message(case, &path, &stderr);
        if out.status.code() != Some(2) {
            problems.push(format!("exit code {:?}, expected 2", out.status.code()));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    stderr: {}",
                case.name,
                problems.join("; "),
                stderr.trim()
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_fails_the_same_way_through_the_library() {
    for case in CASES {
        let err = Scenario::from_bytes(case.text, "case.toml")
            .expect_err(&format!("{} should not parse", case.name));
        assert_eq!(
            err.line,
            marked_line(case.text).unwrap_or(0),
            "{}",
            case.name
        );
        assert_eq!(err.field.as_deref(), case.field, "{}", case.name);
        assert!(err.message.contains(case.phrase), "{}: {err}", case.name);
    }
}

#[test]
fn a_missing_file_exits_2_and_names_it() {
    let path = scratch_dir().join("no-such-scenario.toml");
    let out = faultline(&["run", path.to_str().expect("a UTF-8 temp path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: cannot read the scenario file",
            path.display()
        )),
        "stderr: {stderr}"
    );
}

#[test]
fn bad_command_line_usage_exits_2() {
    let valid = write_scenario(
        "valid",
        head!("[workload]\nclients = 1\nmax_ops = 3\n[checks]\nsettle = \"0s\"\n"),
    );
    let valid = valid.to_str().expect("a UTF-8 temp path");
    let cases: &[(&[&str], &str)] = &[
        (&["run"], "<SCENARIO>"),
        (&["run", valid, "--seed", "notanumber"], "'notanumber'"),
        (&["run", valid, "--seed", "-3"], "'-3'"),
        (&["run", valid, "--bogus"], "--bogus"),
        (&["launch", valid], "launch"),
        (
            &["run", valid, "--window", "10s..11s", "--no-out"],
            "--window 10s..11s lies outside the run",
        ),
        (&[], "Usage"),
    ];
    for (args, phrase) in cases {
        let out = faultline(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: stderr: {stderr}");
        assert!(
            stderr.contains(phrase),
            "{args:?}: stderr lacks {phrase:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let ok = faultline(&["run", valid, "--quiet"]);
    assert_eq!(ok.status.code(), Some(0), "the valid scenario must run");
}

#[test]
fn a_long_value_is_quoted_clipped_with_its_length() {
    let long = "b".repeat(5000);
    let text = format!("name = \"t\"\nprotocol = \"{long}\"\nnodes = 3\nduration = \"10s\"\n");
    let path = write_scenario("long-value", text.as_bytes());
    let out = faultline(&["run", path.to_str().expect("a UTF-8 temp path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("(5000 characters)"), "stderr: {stderr}");
    assert!(
        stderr.contains("expected one of broadcast"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.len() < 500,
        "the message quotes the whole value: {stderr}"
    );
}
