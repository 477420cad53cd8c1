//! Test helpers shared by the chart tests: reading a chart's text and
//! rectangles back out of its SVG, checking that no text leaves the
//! picture, and small made-up runs (operations, role changes, a message
//! trace, fault windows) to draw.

use super::{LamportView, Phases, WIDTH};
use crate::history::Record;
use crate::history::RecordOutcome;
use crate::report::timeline::Window;
use crate::sim::{RoleChange, TraceRecord};

/// A text element of a chart: what it says, where, and how big.
#[derive(Debug)]
pub(super) struct SvgText {
    pub(super) text: String,
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) anchor: String,
    pub(super) size: f64,
    pub(super) rotated: bool,
}

fn attr(n: roxmltree::Node<'_, '_>, key: &str) -> f64 {
    n.attribute(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

pub(super) fn texts(svg: &str) -> Vec<SvgText> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| SvgText {
            text: n.text().unwrap_or("").trim().to_string(),
            x: attr(n, "x"),
            y: attr(n, "y"),
            anchor: n.attribute("text-anchor").unwrap_or("start").into(),
            size: attr(n, "font-size"),
            rotated: n
                .attribute("transform")
                .is_some_and(|t| t.contains("rotate")),
        })
        .collect()
}

pub(super) fn text<'a>(all: &'a [SvgText], what: &str) -> &'a SvgText {
    all.iter().find(|t| t.text == what).unwrap_or_else(|| {
        panic!(
            "no text {what:?} in {:?}",
            all.iter().map(|t| &t.text).collect::<Vec<_>>()
        )
    })
}

/// Opaque filled rectangles other than the background: the data of a
/// row chart (shading is translucent).
pub(super) fn opaque_rects(svg: &str) -> Vec<(f64, f64)> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("opacity") == Some("1"))
        .filter(|n| n.attribute("fill") != Some("#FFFFFF"))
        .map(|n| (attr(n, "y"), attr(n, "y") + attr(n, "height")))
        .collect()
}

/// Asserts that no text runs past the picture's left or right edge
/// (a glyph estimated at 0.6 of the font size).
pub(super) fn assert_inside(svg: &str) {
    for t in texts(svg) {
        let w = 0.6 * t.size * t.text.chars().count() as f64;
        let (left, right) = match t.anchor.as_str() {
            _ if t.rotated => (t.x - t.size, t.x + t.size),
            "middle" => (t.x - w / 2.0, t.x + w / 2.0),
            "end" => (t.x - w, t.x),
            _ => (t.x, t.x + w),
        };
        assert!(
            left >= 0.0 && right <= f64::from(WIDTH),
            "{:?} spans {left:.0}..{right:.0}, outside 0..{WIDTH}",
            t.text
        );
    }
}

pub(super) const S: u64 = 1_000_000_000;

pub(super) fn window(start_s: u64, end_s: u64, label: &str) -> Window {
    Window {
        start_ns: start_s * S,
        end_ns: end_s * S,
        label: label.into(),
    }
}

fn op(f: &str, invoked_ms: u64, latency_ms: u64, ok: bool) -> Record {
    let value = serde_json::Value::Null;
    Record {
        process: 0,
        client: 0,
        f: f.into(),
        key: None,
        input: value.clone(),
        invoked_ns: invoked_ms * 1_000_000,
        completed_ns: Some((invoked_ms + latency_ms) * 1_000_000),
        outcome: if ok {
            RecordOutcome::Ok(value)
        } else {
            RecordOutcome::Fail(value)
        },
    }
}

pub(super) fn ops() -> Vec<Record> {
    (0..200)
        .map(|i| {
            op(
                ["get", "put"][i % 2],
                i as u64 * 100,
                5 + i as u64 % 7,
                i % 9 != 0,
            )
        })
        .collect()
}

fn role(t_s: u64, node: u32, role: &str) -> RoleChange {
    RoleChange {
        time_ns: t_s * S,
        node,
        role: Some(role.into()),
    }
}

pub(super) fn roles_of(nodes: u32) -> Vec<RoleChange> {
    let mut changes: Vec<RoleChange> = (0..nodes).map(|n| role(0, n, "follower")).collect();
    changes.push(role(2, 0, "leader"));
    changes.push(role(9, 1, "leader"));
    changes
}

fn record(kind: &'static str, t_ms: u64, node: u32, peer: u32) -> TraceRecord {
    TraceRecord {
        time_ns: t_ms * 1_000_000,
        kind,
        node: Some(node),
        peer: Some(peer),
        sent_ns: Some(t_ms.saturating_sub(3) * 1_000_000),
        detail: String::new(),
    }
}

pub(super) fn trace() -> Vec<TraceRecord> {
    let mut trace: Vec<TraceRecord> = (0..40)
        .map(|i| {
            record(
                "deliver",
                10_000 + i * 20,
                (i % 7) as u32,
                ((i + 3) % 7) as u32,
            )
        })
        .collect();
    trace.push(record("drop", 10_300, 2, 6));
    trace
}

pub(super) const WINDOWS: &[Window] = &[];

pub(super) fn phases(windows: &[Window]) -> Phases<'_> {
    Phases {
        windows,
        liveness_ns: Some(15 * S),
        end_ns: 20 * S,
    }
}

pub(super) fn lamport_view(from_s: u64, to_s: u64) -> LamportView {
    LamportView {
        processes: 7,
        servers: 5,
        from_ns: from_s * S,
        to_ns: to_s * S,
        limit: 100,
    }
}
