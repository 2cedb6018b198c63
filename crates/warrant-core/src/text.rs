//! Text that came from an agent, an upstream or a file, made safe to put
//! into a message or a log line.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_length_bounded() {
        assert_eq!(printable("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(printable(&"x".repeat(500)).len(), PRINTABLE_CHARS);
    }
}
