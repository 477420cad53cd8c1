//! Shortening the user's values that error messages quote. A message
//! quotes what the user wrote (`found "…"`, ``unknown field `…` ``, an EDN
//! keyword); a 50 KB value pasted by mistake would bury the message, so
//! every quoted value and every unbroken word longer than [`LIMIT`]
//! characters keeps its first [`LIMIT`] and says how long it was.

use std::borrow::Cow;

/// The most characters of one value a message shows.
pub const LIMIT: usize = 100;

/// `message` with every `"…"` or `` `…` `` quoted value, and every other
/// whitespace-free word, longer than [`LIMIT`] characters cut to its first
/// [`LIMIT`], followed by `…` and its length in characters.
pub fn clip_long_values(message: &str) -> Cow<'_, str> {
    if message.chars().count() <= LIMIT {
        return Cow::Borrowed(message);
    }
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len().min(4 * LIMIT));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            out.push(c);
            i += 1;
        } else if c == '"' || c == '`' {
            let end = closing_quote(&chars, i);
            let Some(end) = end else {
                i = push_word(&chars, i, &mut out);
                continue;
            };
            push_clipped(&chars[i + 1..end], &mut out, c);
            i = end + 1;
        } else {
            i = push_word(&chars, i, &mut out);
        }
    }
    Cow::Owned(out)
}

/// The index of the quote closing the one at `open` (a backslash escapes
/// the next character inside `"…"`, as Rust's `{:?}` writes them).
fn closing_quote(chars: &[char], open: usize) -> Option<usize> {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote == '"' => i += 2,
            c if c == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Pushes the word starting at `start` (up to whitespace or a quote),
/// clipped; returns where it ends.
fn push_word(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut end = start + 1;
    while end < chars.len() && !chars[end].is_whitespace() && !matches!(chars[end], '"' | '`') {
        end += 1;
    }
    let word = &chars[start..end];
    out.extend(word.iter().take(LIMIT));
    if word.len() > LIMIT {
        out.push_str(&format!("… ({} characters)", word.len()));
    }
    end
}

/// Pushes `value` between `quote`s, clipped.
fn push_clipped(value: &[char], out: &mut String, quote: char) {
    out.push(quote);
    out.extend(value.iter().take(LIMIT));
    if value.len() > LIMIT {
        out.push('…');
        out.push(quote);
        out.push_str(&format!(" ({} characters)", value.len()));
    } else {
        out.push(quote);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_long_quoted_value_keeps_its_head_and_length() {
        let long = "b".repeat(300);
        let message = format!("unknown protocol \"{long}\": expected one of raft, saga");
        let clipped = clip_long_values(&message);
        let head = "b".repeat(LIMIT);
        assert_eq!(
            clipped,
            format!("unknown protocol \"{head}…\" (300 characters): expected one of raft, saga")
        );
    }

    #[test]
    fn long_words_and_backquoted_fields_are_clipped_too() {
        let long = "w".repeat(150);
        let clipped =
            clip_long_values(&format!("no operation :{long} (expected :read)")).into_owned();
        assert!(
            clipped.ends_with("… (151 characters) (expected :read)"),
            "{clipped}"
        );
        let clipped =
            clip_long_values(&format!("unknown field `{long}`, expected `seed`")).into_owned();
        assert!(
            clipped.contains("…` (150 characters), expected `seed`"),
            "{clipped}"
        );
    }

    #[test]
    fn escaped_quotes_stay_inside_their_value() {
        let long = format!("a\\\"{}", "c".repeat(200));
        let clipped = clip_long_values(&format!("found \"{long}\" here")).into_owned();
        assert!(clipped.ends_with("…\" (203 characters) here"), "{clipped}");
    }

    proptest! {
        #[test]
        fn short_messages_are_unchanged(message in ".{0,100}") {
            prop_assert_eq!(clip_long_values(&message), message.as_str());
        }

        #[test]
        fn messages_of_short_values_are_unchanged(words in prop::collection::vec("\"[a-z ]{0,40}\"|`[a-z]{0,40}`|:?[a-z]{0,40}", 0..20)) {
            let message = words.join(" ");
            prop_assert_eq!(clip_long_values(&message), message.as_str());
        }

        #[test]
        fn no_clipped_message_shows_a_run_longer_than_the_limit(message in "[a-z \"`\\\\]{0,600}") {
            let clipped = clip_long_values(&message);
            let longest = clipped
                .split(|c: char| c.is_whitespace() || c == '"' || c == '`')
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0);
            prop_assert!(longest <= LIMIT + 1, "{clipped}");
        }
    }
}
