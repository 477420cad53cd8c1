//! An isolation anomaly's cycle as a small diagram: the transactions as
//! boxes evenly around a circle, in cycle order clockwise from the top,
//! and each dependency edge as an arrow labelled with its kind and the key
//! and value behind it (`rw(x, 4)`). Edges in both directions between two
//! boxes are drawn apart, each on its own side.
use super::{render, Drawn, FONT, WIDTH};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One transaction of the cycle.
#[derive(Clone, Debug)]
pub struct CycleNode {
    /// The transaction's index (its box and its edges name it).
    pub index: usize,
    /// The box's second line, e.g. `process 3`.
    pub detail: String,
}

/// One edge of the cycle.
#[derive(Clone, Debug)]
pub struct CycleEdge {
    /// The source transaction's index.
    pub from: usize,
    /// The target transaction's index.
    pub to: usize,
    /// Its label, e.g. `ww(x, 4)`.
    pub label: String,
}

const HEIGHT: u32 = 420;
const BOX_W: f64 = 110.0;
const BOX_H: f64 = 38.0;
/// How far apart the two edges between one pair of boxes are drawn.
const EDGE_SPREAD: f64 = 9.0;
const INK: RGBColor = RGBColor(40, 40, 40);
const EDGE: RGBColor = RGBColor(180, 40, 40);
const BOX_FILL: RGBColor = RGBColor(238, 243, 250);

/// The diagram of a cycle through `nodes` along `edges`, as SVG text.
pub fn cycle(caption: &str, nodes: &[CycleNode], edges: &[CycleEdge]) -> String {
    render(HEIGHT, |root| draw(root, caption, nodes, edges))
}

fn draw(root: &super::Area<'_>, caption: &str, nodes: &[CycleNode], edges: &[CycleEdge]) -> Drawn {
    root.fill(&WHITE).map_err(super::err)?;
    let title = (FONT, 16).into_font().color(&INK);
    root.draw(&Text::new(caption.to_string(), (10, 8), title))
        .map_err(super::err)?;
    let center = (f64::from(WIDTH) / 2.0, f64::from(HEIGHT) / 2.0 + 14.0);
    // An ellipse that widens with the count, so neighbouring boxes stay apart.
    let (rx, ry) = match nodes.len() {
        0..=2 => (110.0, 110.0),
        k => ((110.0 + 30.0 * k as f64).min(380.0), 150.0),
    };
    let n = nodes.len().max(1) as f64;
    // Clockwise from the top; two boxes side by side, so that the labels
    // of their edges (horizontal text) sit above and below them.
    let first = if nodes.len() == 2 {
        std::f64::consts::PI
    } else {
        -std::f64::consts::FRAC_PI_2
    };
    let at: Vec<(f64, f64)> = (0..nodes.len())
        .map(|i| {
            let angle = first + std::f64::consts::TAU * i as f64 / n;
            (center.0 + rx * angle.cos(), center.1 + ry * angle.sin())
        })
        .collect();
    let place = |index: usize| nodes.iter().position(|n| n.index == index).map(|i| at[i]);
    for e in edges {
        let (Some(a), Some(b)) = (place(e.from), place(e.to)) else {
            continue;
        };
        arrow(root, a, b, &e.label)?;
    }
    let name = (FONT, 15).into_font().color(&INK);
    let small = (FONT, 12).into_font().color(&INK);
    let centered = Pos::new(HPos::Center, VPos::Center);
    for (node, &(x, y)) in nodes.iter().zip(&at) {
        let corner = |dx: f64, dy: f64| ((x + dx) as i32, (y + dy) as i32);
        let (tl, br) = (
            corner(-BOX_W / 2.0, -BOX_H / 2.0),
            corner(BOX_W / 2.0, BOX_H / 2.0),
        );
        root.draw(&Rectangle::new([tl, br], BOX_FILL.filled()))
            .map_err(super::err)?;
        root.draw(&Rectangle::new([tl, br], INK.stroke_width(1)))
            .map_err(super::err)?;
        let lines = [
            (format!("T{}", node.index), -8.0, name.pos(centered)),
            (node.detail.clone(), 9.0, small.pos(centered)),
        ];
        for (text, dy, style) in lines {
            root.draw(&Text::new(text, corner(0.0, dy), style))
                .map_err(super::err)?;
        }
    }
    Ok(())
}

/// An arrow from box centre `a` to box centre `b`, shifted to its left so
/// that the edge back from `b` to `a` does not cover it, ending at the
/// target box's border, with `label` beside its middle.
fn arrow(root: &super::Area<'_>, a: (f64, f64), b: (f64, f64), label: &str) -> Drawn {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    // Left of the direction of travel (screen y points down).
    let (px, py) = (uy, -ux);
    let shift = |p: (f64, f64), t: f64| {
        (
            p.0 + px * EDGE_SPREAD + ux * t,
            p.1 + py * EDGE_SPREAD + uy * t,
        )
    };
    // Leave each box: the distance from a centre to its border along u.
    let border = (BOX_W / 2.0 / ux.abs().max(1e-9)).min(BOX_H / 2.0 / uy.abs().max(1e-9));
    let start = shift(a, border);
    let end = shift(b, -border - 2.0);
    let pt = |p: (f64, f64)| (p.0 as i32, p.1 as i32);
    root.draw(&PathElement::new(
        vec![pt(start), pt(end)],
        EDGE.stroke_width(2),
    ))
    .map_err(super::err)?;
    let head =
        |back: f64, side: f64| pt((end.0 - ux * back + px * side, end.1 - uy * back + py * side));
    root.draw(&Polygon::new(
        vec![pt(end), head(11.0, 5.0), head(11.0, -5.0)],
        EDGE.filled(),
    ))
    .map_err(super::err)?;
    let mid = ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
    let label_at = pt((mid.0 + px * 8.0, mid.1 + py * 8.0));
    // Anchored on the side it sits on, so the text grows away from the line.
    let h = match px {
        x if x > 0.3 => HPos::Left,
        x if x < -0.3 => HPos::Right,
        _ => HPos::Center,
    };
    let v = match py {
        y if y > 0.3 => VPos::Top,
        y if y < -0.3 => VPos::Bottom,
        _ => VPos::Center,
    };
    let style = (FONT, 13).into_font().color(&EDGE).pos(Pos::new(h, v));
    root.draw(&Text::new(label.to_string(), label_at, style))
        .map_err(super::err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_inside, text, texts};
    use super::*;

    fn ring(n: usize) -> (Vec<CycleNode>, Vec<CycleEdge>) {
        let nodes = (0..n)
            .map(|i| CycleNode {
                index: 10 + i,
                detail: format!("process {i}"),
            })
            .collect();
        let edges = (0..n)
            .map(|i| CycleEdge {
                from: 10 + i,
                to: 10 + (i + 1) % n,
                label: format!("rw(key{i}, {i})"),
            })
            .collect();
        (nodes, edges)
    }

    #[test]
    fn every_transaction_and_edge_is_labelled_inside_the_picture() {
        for n in [2, 3, 5, 8] {
            let (nodes, edges) = ring(n);
            let svg = cycle("G2: the cycle", &nodes, &edges);
            if let Ok(dir) = std::env::var("FAULTLINE_CHART_DIR") {
                let _ = std::fs::write(format!("{dir}/cycle-{n}.svg"), &svg);
            }
            assert_inside(&svg);
            let all = texts(&svg);
            for i in 0..n {
                text(&all, &format!("T{}", 10 + i));
                text(&all, &format!("rw(key{i}, {i})"));
            }
            // One arrow head per edge.
            assert_eq!(svg.matches("<polygon").count(), n, "{n} nodes");
        }
    }
}
