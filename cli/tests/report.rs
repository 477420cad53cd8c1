//! The report a run writes: every file present, SVGs well-formed XML,
//! `trace.json` in Chrome's trace format, `report.md` with its sections, a
//! self-contained `index.html`, and (with Chromium installed) the page
//! opening in headless Chromium with no console errors and its charts shown;
//! what the charts of real runs say: Raft's client lanes named as clients
//! (in the Perfetto trace too), the liveness phase marked, the
//! counterexample on a time axis, and no text cut off at a picture's edge.
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
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
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
fn a_protocol_adds_its_own_section_to_both_reports() {
    let dir = report_dir(
        "section",
        "2pc-coordinator-crash-before-decision.toml",
        &["--seed", "1"],
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir, "summary.json")).unwrap_or_else(|e| panic!("{e}"));
    let longest = summary["metrics"]["blocking_ns_max"]
        .as_u64()
        .unwrap_or_else(|| panic!("no blocking_ns_max in {summary}"));
    assert!(longest > 0, "the coordinator crash left no one in doubt");
    let longest = faultline::time::SimDuration::from_nanos(longest).to_string();
    let md = read(&dir, "report.md");
    let row = format!("| in doubt, longest | {longest} |");
    assert!(md.contains("## Two-phase commit\n"), "{md}");
    assert!(md.contains(&row), "no {row:?} in {md}");
    let html = read(&dir, "index.html");
    assert!(html.contains("<h2>Two-phase commit</h2>"), "{html}");
    assert!(
        html.contains(&format!("<td>in doubt, longest</td><td>{longest}</td>")),
        "{html}"
    );
    let broadcast = report_dir("no-section", "broadcast-calm.toml", &["--seed", "1"]);
    let md = read(&broadcast, "report.md");
    assert!(
        !md.contains("what it means"),
        "broadcast has no section: {md}"
    );
}

#[test]
fn a_protocol_section_charts_its_series_in_both_reports() {
    let dir = report_dir("series", "service-retry-breaker.toml", &[]);
    let md = read(&dir, "report.md");
    let html = read(&dir, "index.html");
    for (k, title) in [
        "Goodput, throughput and attempts per window",
        "Circuit breakers over time",
        "Work held per replica",
    ]
    .iter()
    .enumerate()
    {
        let file = format!("protocol-{}.svg", k + 1);
        assert!(md.contains(&format!("![{title}]({file})")), "{md}");
        let svg = read(&dir, &file);
        assert!(has_text(&svg, title), "{file} is not titled {title}");
        assert!(html.contains(title), "index.html has no {title}");
        assert_texts_inside(&file, &svg);
    }
    let calm = report_dir("no-series", "2pc-calm.toml", &["--seed", "1"]);
    assert!(
        !calm.join("protocol-1.svg").exists(),
        "2PC has no series of its own"
    );
}

#[test]
fn slo_requirements_are_evaluated_pass_and_fail() {
    let dir = std::env::temp_dir().join(format!("faultline-report-slo-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let text = std::fs::read_to_string(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .join("scenarios/broadcast-lossy-crash.toml"),
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

/// A text element of an SVG: what it says, where across it is anchored,
/// its font size, and whether it runs vertically (an axis name).
struct SvgText {
    text: String,
    x: f64,
    anchor: String,
    size: f64,
    rotated: bool,
}

fn svg_texts(svg: &str) -> Vec<SvgText> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    let number = |n: roxmltree::Node<'_, '_>, k: &str| {
        n.attribute(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| SvgText {
            text: n.text().unwrap_or("").trim().to_string(),
            x: number(n, "x"),
            anchor: n.attribute("text-anchor").unwrap_or("start").to_string(),
            size: n
                .attribute("font-size")
                .and_then(|v| v.parse().ok())
                .unwrap_or(16.0),
            rotated: n
                .attribute("transform")
                .is_some_and(|t| t.contains("rotate")),
        })
        .collect()
}

fn svg_width(svg: &str) -> f64 {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    doc.root_element()
        .attribute("width")
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("an SVG without a width"))
}

/// Asserts that no text of `svg` runs past its left or right edge
/// (estimating a sans-serif glyph at 0.6 of the font size, generous for
/// digits and lower case).
fn assert_texts_inside(name: &str, svg: &str) {
    let width = svg_width(svg);
    for t in svg_texts(svg) {
        let w = 0.6 * t.size * t.text.chars().count() as f64;
        let (left, right) = match t.anchor.as_str() {
            _ if t.rotated => (t.x - t.size, t.x + t.size),
            "middle" => (t.x - w / 2.0, t.x + w / 2.0),
            "end" => (t.x - w, t.x),
            _ => (t.x, t.x + w),
        };
        assert!(
            left >= 0.0 && right <= width,
            "{name}: {:?} spans {left:.0}..{right:.0}, outside 0..{width}",
            t.text
        );
    }
}

fn has_text(svg: &str, text: &str) -> bool {
    svg_texts(svg).iter().any(|t| t.text == text)
}

#[test]
fn the_lamport_diagram_names_raft_client_lanes_as_clients() {
    let dir = report_dir("lamport", "raft-leader-crashes.toml", &["--seed", "1"]);
    let svg = read(&dir, "lamport.svg");
    for lane in ["n0", "n4", "c0", "c3"] {
        assert!(has_text(&svg, lane), "lamport.svg has no lane {lane}");
    }
    assert!(
        !has_text(&svg, "n5"),
        "the 5 servers are n0..n4; process 5 is client c0"
    );
    assert_texts_inside("lamport.svg", &svg);
}

/// Regression: fault descriptions named client processes `n5`, `n6`, ...
/// like servers while every chart calls them `c0`, `c1`, ...
#[test]
fn fault_descriptions_name_client_processes_as_clients() {
    let out = Command::new(BIN)
        .args(["run", "--no-out", "--json"])
        .arg(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/raft-split-clients.toml"
        )))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let split = summary["faults"][0]["description"].as_str().unwrap_or("");
    assert_eq!(
        split,
        "partition split: groups [n0,n1,c0] | [n2,n3,n4,c1,c2]"
    );
    assert_eq!(
        summary["faults"][0]["effect"]["groups"][0],
        serde_json::json!([0, 1, 5])
    );
}

/// Regression: trace.json named Raft's client processes (5 on, after the
/// five servers) `n5`, `n6`, ... like servers, while the charts call them
/// `c0`, `c1`, ...; the same process had two names.
#[test]
fn the_perfetto_trace_names_raft_client_processes_as_clients() {
    let dir = report_dir("perfetto", "raft-leader-crashes.toml", &["--seed", "1"]);
    let trace: serde_json::Value =
        serde_json::from_str(&read(&dir, "trace.json")).unwrap_or_else(|e| panic!("{e}"));
    let events = trace["traceEvents"].as_array().cloned().unwrap_or_default();
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    for track in ["n0", "n4", "c0", "c3"] {
        assert!(threads.contains(&track), "no track {track} in {threads:?}");
    }
    assert!(
        !threads.contains(&"n5"),
        "the 5 servers are n0..n4; process 5 is client c0: {threads:?}"
    );
    let named_n5 = events
        .iter()
        .filter_map(|e| e["name"].as_str())
        .find(|name| name.ends_with(" n5"));
    assert_eq!(named_n5, None, "a message slice names client c0 as n5");
}

#[test]
fn the_time_charts_mark_the_liveness_phase() {
    let dir = report_dir("liveness", "raft-leader-crashes.toml", &["--seed", "1"]);
    for chart in ["latency.svg", "throughput.svg", "roles.svg"] {
        let svg = read(&dir, chart);
        assert!(
            has_text(&svg, "liveness phase"),
            "{chart} does not mark the liveness phase"
        );
        assert_texts_inside(chart, &svg);
    }
}

#[test]
fn the_counterexample_timeline_has_a_time_axis_inside_the_picture() {
    let dir = report_dir(
        "counterexample",
        "cap-eventual-split.toml",
        &["--seed", "1"],
    );
    let html = read(&dir, "index.html");
    let at = html
        .find("<h2>Counterexample")
        .unwrap_or_else(|| panic!("no counterexample in the page"));
    let start = at + html[at..].find("<svg").unwrap_or(0);
    let end = start + html[start..].find("</svg>").unwrap_or(0) + "</svg>".len();
    let svg = &html[start..end];
    assert!(has_text(svg, "time (ms)"), "no time axis label");
    let ticks = svg_texts(svg)
        .iter()
        .filter(|t| t.text.parse::<f64>().is_ok())
        .count();
    assert!(ticks >= 3, "only {ticks} numbered time ticks");
    assert_texts_inside("the counterexample", svg);
}

/// A planted 2PC isolation bug: the page shows the anomaly's cycle as a
/// diagram (a box per transaction, labelled edges) and lists the
/// transactions' operations.
#[test]
fn an_isolation_anomaly_is_drawn_as_its_cycle() {
    let source = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/2pc-audits.toml"
    ));
    let text = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("{e}"));
    let text = text.replacen("[twopc]", "[twopc]\nbug = \"release-locks-at-prepare\"", 1);
    let scenario = common::temp_file("2pc-release-locks.toml", text.as_bytes());
    let dir = std::env::temp_dir().join(format!("faultline-report-cycle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = common::faultline(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--seed",
        "0",
        "--out",
        dir.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(1), "the bug must fail the run");
    let html = read(&dir, "index.html");
    let at = html
        .find("<h2>Isolation anomalies: twopc.serializable")
        .unwrap_or_else(|| panic!("no isolation section in the page"));
    let section = &html[at..at + html[at..].find("</section>").unwrap_or(0)];
    let start = section.find("<svg").unwrap_or_else(|| panic!("no diagram"));
    let end = start + section[start..].find("</svg>").unwrap_or(0) + "</svg>".len();
    let svg = &section[start..end];
    let texts = svg_texts(svg);
    let boxes: Vec<&str> = texts
        .iter()
        .map(|t| t.text.as_str())
        .filter(|t| t.starts_with('T') && t[1..].parse::<u64>().is_ok())
        .collect();
    assert!(boxes.len() >= 2, "transactions drawn: {boxes:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.text.starts_with("rw(") || t.text.starts_with("ww(")),
        "no labelled edge"
    );
    assert_texts_inside("the cycle", svg);
    assert!(section.contains("<th>operations</th>") && section.contains("[:w "));
}
