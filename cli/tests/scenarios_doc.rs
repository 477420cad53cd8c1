//! `docs/scenarios.md` kept honest: every ```toml block marked
//! `# complete example` parses, every block marked `# bad example` fails
//! with exactly the error shown in the ```text block after it, and every
//! built-in protocol has its section.

use faultline::scenario::Scenario;

const DOC: &str = include_str!("../../docs/scenarios.md");

/// The fenced blocks of `doc`: (info string, body).
fn fenced_blocks(doc: &str) -> Vec<(&str, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(&str, String)> = None;
    for line in doc.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim(), String::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

#[test]
fn every_complete_example_in_the_docs_parses() {
    let examples: Vec<String> = fenced_blocks(DOC)
        .into_iter()
        .filter(|(info, body)| *info == "toml" && body.starts_with("# complete example"))
        .map(|(_, body)| body)
        .collect();
    assert!(
        examples.len() >= 8,
        "expected at least 8 complete examples, found {}",
        examples.len()
    );
    for (i, text) in examples.iter().enumerate() {
        let file = format!("docs/scenarios.md example {}", i + 1);
        if let Err(e) = Scenario::parse(text, &file) {
            panic!("{e}\n---\n{text}");
        }
    }
}

/// Every `# bad example` block fails with the `error:` line of the ```text
/// block right after it, byte for byte (the file is called `bad.toml`).
#[test]
fn every_error_shown_in_the_docs_is_the_real_one() {
    let blocks = fenced_blocks(DOC);
    let mut checked = 0;
    for (i, (info, body)) in blocks.iter().enumerate() {
        if *info != "toml" || !body.starts_with("# bad example") {
            continue;
        }
        let shown = blocks
            .get(i + 1)
            .filter(|(info, _)| *info == "text")
            .and_then(|(_, out)| out.lines().find(|l| l.starts_with("error: ")))
            .unwrap_or_else(|| panic!("bad example {body:?} needs a ```text block with error:"));
        let err = Scenario::parse(body, "bad.toml").expect_err("a bad example must not parse");
        assert_eq!(shown, format!("error: {err}"), "---\n{body}");
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected at least 3 bad examples, found {checked}"
    );
}

#[test]
fn every_built_in_protocol_has_its_section_in_the_docs() {
    let registry = faultline::protocols::Registry::builtin();
    let headings: Vec<&str> = DOC.lines().filter(|l| l.starts_with("## ")).collect();
    for name in registry.names() {
        let table = format!("`[{name}]`");
        assert!(
            headings.iter().any(|h| h.contains(&table)),
            "docs/scenarios.md has no `## ` heading naming {table}"
        );
        assert!(
            DOC.contains(&format!("`\"{name}\"`")),
            "the `protocol` row of docs/scenarios.md does not list \"{name}\""
        );
    }
}
