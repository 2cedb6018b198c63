//! What a person reads on a terminal: text an agent or a tool wrote, made
//! safe to print, and a pending approval laid out so that the person sees
//! what they are asked to approve.
//!
//! Nothing here decides anything; it only shows.

/// `text` made safe to print on a terminal: control characters (C0, DEL,
/// C1, so no escape sequence), Unicode format characters (bidi overrides,
/// zero-width characters, tag characters) and line and paragraph separators
/// are shown as `\u{…}` escapes, line breaks and tabs as `\n`, `\r`, `\t`;
/// everything else as it is. What an agent or a
/// tool wrote can then neither redraw the screen nor hide in plain sight.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(escaped) = match c {
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        } {
            out.push_str(escaped);
        } else if c.is_control() || is_format(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode format (Cf) and separator characters, spaces other than the
/// space, and blank fillers: what changes how text looks without being seen.
fn is_format(c: char) -> bool {
    matches!(u32::from(c),
        // Spaces that are not the space (no-break, en, em, thin, ideographic),
        // blank fillers and the combining grapheme joiner: text that looks
        // like a space or like nothing.
        0xA0 | 0x34F | 0x115F | 0x1160 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F
        | 0x2800 | 0x3000 | 0x3164 | 0xFFA0
        | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0x1D173..=0x1D17A | 0xE0000..=0xE007F)
}

/// A pending approval (as the control socket lists it) as a person reads it:
/// who asks, under which rule and why, what the tool says it does, and every
/// argument's value, one per line, made safe for a terminal. Nothing is cut:
/// what is shown is what would be approved.
pub fn approval_text(pending: &serde_json::Value) -> String {
    use serde_json::Value;
    let field = |key: &str| terminal_safe(pending.get(key).and_then(Value::as_str).unwrap_or(""));
    let mut out = format!(
        "{}  {}  agent={}  rule={}  expires={}\n    why: {}\n",
        field("id"),
        field("tool"),
        field("agent_name"),
        field("rule"),
        field("expires_at"),
        field("why"),
    );
    let description = field("description");
    if !description.is_empty() {
        out.push_str(&format!("    tool says: {description}\n"));
    }
    match pending.get("arguments") {
        Some(Value::Object(map)) if !map.is_empty() => {
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => format!("\"{}\"", terminal_safe(s)),
                    other => terminal_safe(&other.to_string()),
                };
                out.push_str(&format!("    {}: {}\n", terminal_safe(key), shortened(&text)));
                let foreign = non_ascii(key, value);
                if !foreign.is_empty() {
                    out.push_str(&format!(
                        "      (note: `{}` holds characters that may look like others: {})\n",
                        terminal_safe(key),
                        foreign.join(" ")
                    ));
                }
            }
        }
        Some(Value::Object(_)) | None => out.push_str("    (no arguments)\n"),
        Some(other) => {
            out.push_str(&format!("    arguments: {}\n", terminal_safe(&other.to_string())))
        }
    }
    out
}

/// The longest argument value shown in full in the text view; past it, the
/// head and the tail are shown and the person is told where the rest is.
const SHOWN_CHARS: usize = 4096;

/// `text` as shown: whole up to [`SHOWN_CHARS`], else its first 2,048 and
/// last 512 characters around a marker that says how much is left out.
fn shortened(text: &str) -> String {
    let count = text.chars().count();
    if count <= SHOWN_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(2048).collect();
    let tail: String = text.chars().skip(count - 512).collect();
    format!(
        "{head}…[{} characters not shown: `warrant approvals --json` shows the whole value]…{tail}",
        count - 2048 - 512
    )
}

/// The non-ASCII characters in an argument's name and (string) value, as
/// code points, at most eight: a look-alike (a Cyrillic `о` in `tо`, an
/// `а` in `аlice`) is then told apart from the letter it imitates.
fn non_ascii(key: &str, value: &serde_json::Value) -> Vec<String> {
    let value = value.as_str().unwrap_or("");
    let mut seen: Vec<char> = Vec::new();
    for c in key.chars().chain(value.chars()).filter(|c| !c.is_ascii()) {
        if !seen.contains(&c) {
            seen.push(c);
        }
        if seen.len() == 8 {
            break;
        }
    }
    seen.iter()
        .map(|c| format!("`{}` U+{:04X}", terminal_safe(&c.to_string()), u32::from(*c)))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_bidi_and_line_breaks_are_made_visible() {
        assert_eq!(
            terminal_safe("a\u{1b}[2Jb\u{202e}c\nd\u{9b}"),
            "a\\u{001b}[2Jb\\u{202e}c\\nd\\u{009b}"
        );
        assert_eq!(terminal_safe("plain é"), "plain é");
        assert_eq!(terminal_safe("a\u{a0}b\u{34f}c"), "a\\u{00a0}b\\u{034f}c");
    }

    #[test]
    fn a_look_alike_in_a_name_or_value_is_pointed_out() {
        let pending = json!({"id": "1", "tool": "bank__pay", "arguments": {"t\u{43e}": "\u{430}lice", "to": "bob"}});
        let text = approval_text(&pending);
        assert!(text.contains("U+043E") && text.contains("U+0430"), "{text}");
        assert_eq!(text.matches("may look like others").count(), 1, "{text}");
    }

    #[test]
    fn a_long_value_shows_its_head_and_tail_and_says_what_is_left_out() {
        let value = format!("{}MIDDLE{}TAIL", "a".repeat(3000), "b".repeat(3000));
        let text = approval_text(&json!({"arguments": {"body": value}}));
        assert!(text.contains("characters not shown") && text.ends_with("TAIL\"\n"), "{text}");
        assert!(!text.contains("MIDDLE"));
        let short = approval_text(&json!({"arguments": {"body": "x".repeat(100)}}));
        assert!(!short.contains("not shown"));
    }
}
