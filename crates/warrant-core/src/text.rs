//! Text that came from an agent, an upstream or a file, made safe to put
//! into a message or a log line; and an error with its causes, for a message
//! that can only be text.

/// The longest quotation [`printable`] keeps, in characters.
pub const PRINTABLE_CHARS: usize = 160;

/// `s` shortened to [`PRINTABLE_CHARS`] characters and escaped: no control
/// characters, no line breaks, nothing beyond ASCII left to render.
pub fn printable(s: &str) -> String {
    printable_up_to(s, PRINTABLE_CHARS)
}

/// [`printable`] with a bound of `max` characters.
pub fn printable_up_to(s: &str, max: usize) -> String {
    s.chars().take(max).flat_map(char::escape_default).collect()
}

/// `error` and each of its causes on one line, `: `-separated: what an error
/// keeps as its source, spelled out where the error must become text (a
/// control reply, an agent's tool result, an audit record). A cause whose
/// text its error already shows (an error that prints its source and also
/// chains it) is said once.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the kill list")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open `x`: {0}")]
    struct Inline(#[source] std::io::Error);

    #[test]
    fn an_errors_causes_follow_it_each_once() {
        let io = || std::io::Error::other("disk full");
        assert_eq!(with_causes(&Outer(io())), "cannot read the kill list: disk full");
        assert_eq!(with_causes(&Inline(io())), "cannot open `x`: disk full");
        assert_eq!(with_causes(&std::io::Error::other("a\nb")), "a b");
    }

    #[test]
    fn control_characters_are_escaped_and_length_bounded() {
        assert_eq!(printable("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(printable(&"x".repeat(500)).len(), PRINTABLE_CHARS);
    }
}
