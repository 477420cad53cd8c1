//! The Rust shown in the README and docs is code that compiles: every
//! ```` ```rust ```` block is marked `<!-- snippet: path -->` and is an
//! excerpt of that file, its lines in the file's order, with `// ...` lines
//! standing for what it leaves out. A renamed function or changed signature
//! breaks this test instead of silently rotting the docs.

use std::path::{Path, PathBuf};

/// A line of a snippet that stands for elided code.
const ELISION: &str = "// ...";

/// The marker naming a snippet's source file, on the line before the fence.
const MARKER: (&str, &str) = ("<!-- snippet: ", " -->");

/// One ```` ```rust ```` block of a Markdown file.
struct Snippet {
    /// The Markdown file and the line of the opening fence (1-based).
    place: String,
    /// The file it is an excerpt of, if it is marked.
    source: Option<String>,
    lines: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Every ```` ```rust ```` block of `markdown` (named `name` in messages).
fn snippets(name: &str, markdown: &str) -> Vec<Snippet> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "```rust" {
            i += 1;
            continue;
        }
        let source = i
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix(MARKER.0))
            .and_then(|rest| rest.strip_suffix(MARKER.1))
            .map(str::to_string);
        let start = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && lines[i].trim() != "```" {
            body.push(lines[i].to_string());
            i += 1;
        }
        found.push(Snippet {
            place: format!("{name}:{}", start + 1),
            source,
            lines: body,
        });
        i += 1;
    }
    found
}

/// The first line of `snippet` that is not found, in order, in `source`
/// (comparing lines without their indentation), or `None` if it is an
/// excerpt.
fn first_line_not_in(snippet: &[String], source: &str) -> Option<String> {
    let mut rest = source.lines().map(str::trim);
    for line in snippet.iter().map(|l| l.trim()) {
        if line.is_empty() || line.starts_with(ELISION) {
            continue;
        }
        if !rest.any(|s| s == line) {
            return Some(line.to_string());
        }
    }
    None
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is readable")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

#[test]
fn every_rust_block_in_the_docs_is_an_excerpt_of_a_compiled_file() {
    let mut checked = 0;
    for doc in documents() {
        let name = doc
            .strip_prefix(root())
            .unwrap_or(&doc)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
        for snippet in snippets(&name, &text) {
            let Some(source) = &snippet.source else {
                panic!(
                    "{}: a ```rust block without a `<!-- snippet: path -->` line before it",
                    snippet.place
                );
            };
            let code = std::fs::read_to_string(root().join(Path::new(source)))
                .unwrap_or_else(|e| panic!("{}: snippet source {source}: {e}", snippet.place));
            if let Some(line) = first_line_not_in(&snippet.lines, &code) {
                panic!(
                    "{}: `{line}` is not in {source} (or not in this order); \
                     update the snippet from the file",
                    snippet.place
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} snippets were found");
}

#[test]
fn a_snippet_that_drifted_from_its_file_is_caught() {
    let source = "fn main() {\n    let a = 1;\n    let b = 2;\n}\n";
    let excerpt = |lines: &[&str]| -> Vec<String> { lines.iter().map(|l| l.to_string()).collect() };
    assert_eq!(
        first_line_not_in(
            &excerpt(&["fn main() {", "// ...", "let b = 2;", "}"]),
            source
        ),
        None
    );
    assert_eq!(
        first_line_not_in(&excerpt(&["fn main() {", "let b = 3;"]), source),
        Some("let b = 3;".to_string()),
        "a changed line"
    );
    assert_eq!(
        first_line_not_in(&excerpt(&["let b = 2;", "let a = 1;"]), source),
        Some("let a = 1;".to_string()),
        "lines out of order"
    );
    let marked = snippets(
        "x.md",
        "<!-- snippet: a.rs -->\n```rust\nfn f() {}\n```\n\n```rust\n```\n",
    );
    assert_eq!(marked.len(), 2);
    assert_eq!(marked[0].source.as_deref(), Some("a.rs"));
    assert_eq!(marked[0].lines, vec!["fn f() {}".to_string()]);
    assert_eq!(marked[1].source, None, "an unmarked block is told apart");
    assert_eq!(marked[1].place, "x.md:6");
}
