//! The report a run writes: every file present, SVGs well-formed XML,
//! `trace.json` in Chrome's trace format, `report.md` with its sections, a
//! self-contained `index.html`, and (with Chromium installed) the page
//! opening in headless Chromium with no console errors and its charts shown.
//!
//! The Chromium test is skipped with a printed note when no Chromium is
//! installed, unless `FAULTLINE_REQUIRE_CHROMIUM` is set (CI sets it after
//! installing Debian's chromium), in which case a missing browser fails.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::BIN;

fn report_dir(tag: &str, scenario: &str, extra: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-report-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(scenario);
    let mut args = vec![
        "run".to_string(),
        path.display().to_string(),
        "--out".into(),
        dir.display().to_string(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let status = Command::new(BIN)
        .args(&args)
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "run failed: {status:?}"
    );
    dir
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_run_writes_every_report_file_well_formed() {
    let dir = report_dir(
        "files",
        "broadcast-lossy-crash.toml",
        &["--seed", "3", "--window", "7s..7.5s"],
    );
    for name in faultline::report::REPORT_FILES {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    for svg in ["latency.svg", "throughput.svg", "lamport.svg"] {
        let text = read(&dir, svg);
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{svg} is not well-formed XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(doc.descendants().count() > 50, "{svg} draws almost nothing");
    }
    let lamport = read(&dir, "lamport.svg");
    assert!(
        lamport.contains("7s to 7.5s"),
        "the window is the one asked for"
    );
    let trace: serde_json::Value =
        serde_json::from_str(&read(&dir, "trace.json")).unwrap_or_else(|e| panic!("{e}"));
    let events = trace["traceEvents"].as_array().cloned().unwrap_or_default();
    assert!(
        events.iter().any(|e| e["ph"] == "s") && events.iter().any(|e| e["ph"] == "f"),
        "message flows"
    );
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["args"]["name"] == "n4"),
        "a track per node"
    );
    let md = read(&dir, "report.md");
    for section in [
        "---\ntitle:",
        "## Setup",
        "## Requirements",
        "## Key metrics",
        "## Checks",
        "## Trade-offs observed",
    ] {
        assert!(md.contains(section), "report.md lacks {section:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir, "summary.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["seed"], 3);
    let history = read(&dir, "history.jsonl");
    assert!(history
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    let html = read(&dir, "index.html");
    assert!(html.matches("<svg").count() >= 3);
    for fetch in [
        "<script",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
    ] {
        assert!(
            !html.contains(fetch),
            "index.html must be self-contained, found {fetch:?}"
        );
    }
}

#[test]
fn slo_requirements_are_evaluated_pass_and_fail() {
    let dir = std::env::temp_dir().join(format!("faultline-report-slo-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/broadcast-lossy-crash.toml"),
    )
    .unwrap_or_default()
        + "\n[slo]\nlatency_p99 = \"50ms\"\navailability = 0.9999\n";
    let file = dir.join("slo.toml");
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("out");
    let status = Command::new(BIN)
        .args([
            "run",
            &file.display().to_string(),
            "--seed",
            "3",
            "--out",
            &out.display().to_string(),
            "--quiet",
        ])
        .status();
    assert!(status.is_ok());
    let md = read(&out, "report.md");
    assert!(md.contains("| latency p99 | <= 50ms | 0s | PASS |"), "{md}");
    assert!(
        md.lines()
            .any(|l| l.starts_with("| availability |") && l.ends_with("| FAIL |")),
        "{md}"
    );
}

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

#[test]
fn index_html_opens_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else {
        if std::env::var_os("FAULTLINE_REQUIRE_CHROMIUM").is_some() {
            panic!("FAULTLINE_REQUIRE_CHROMIUM is set but no Chromium is installed");
        }
        common::note("SKIPPED index_html_opens_in_headless_chromium_without_console_errors: no Chromium here (apt-get install chromium, or run .ci/run)");
        return;
    };
    let dir = report_dir("chromium", "broadcast-partition.toml", &["--seed", "7"]);
    let profile =
        std::env::temp_dir().join(format!("faultline-chromium-profile-{}", std::process::id()));
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", dir.join("index.html").display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let console_errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("broadcast-partition"),
        "the page did not render: {stderr}"
    );
    assert!(
        dom.matches("<svg").count() >= 3,
        "the charts are not in the rendered page"
    );
}
