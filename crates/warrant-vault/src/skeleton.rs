//! The skeleton of bytes: the letters and digits a reader would see once
//! cheap disguises are undone. The leak scanner matches the skeleton of each
//! secret (and of its encoded forms) against the skeleton of what is about to
//! leave ([`crate::disguise`]), and counts pieces of secrets in it
//! ([`crate::fragments`]).
//!
//! Character by character, it:
//! - decodes UTF-8 (a byte that is not part of a valid character is a
//!   separator) and HTML character references: numeric (`&#103;`, `&#x68;`;
//!   the `;` may be left out unless a letter or digit follows) and named
//!   (`&lowbar;`; `&Gopf;`, `&gfr;` and `&gscr;` are their letter);
//! - applies Unicode compatibility decomposition (NFKD: the mappings of
//!   NFKC, without recomposing, so that a combining mark put on a character
//!   does not hide it): fullwidth `Ｇ`, mathematical `𝐆`, circled, superscript
//!   and ligature forms become plain letters and digits;
//! - reads the invisible characters that spell bytes one to one as those
//!   bytes: tag characters (U+E0041 is `A`) and variation selectors (one a
//!   byte, as data is hidden behind an emoji);
//! - keeps ASCII letters and digits, lowercased, and drops everything else:
//!   whitespace and line breaks, punctuation, format characters (zero-width
//!   spaces and joiners, the byte-order mark, soft hyphens, bidi controls),
//!   NUL (so UTF-16 of ASCII text reads as its letters), combining marks, and
//!   every other character no decomposition maps to ASCII;
//! - drops a backslash together with the letter of a C or JSON escape after
//!   it (`\n`, `\r`, `\t`, …), so that an escaped line break is a separator
//!   too.
//!
//! Deliberately not: percent- and `\u`-escapes are not decoded (a `%` or `\u`
//! put in front of a secret would then eat its first characters; the scanner
//! matches the skeletons of the fully escaped forms instead), confusable
//! letters of other scripts (Cyrillic `а` for `a`) are dropped rather than
//! mapped, and case is folded, so a skeleton carries less than its text.
//! Every buffer that may hold a secret is `Zeroizing`.

use zeroize::Zeroizing;

/// Skeletons shorter than this are never matched on their own: a secret's
/// skeleton (ASCII letters and digits, lowercased: at most 5.2 bits a
/// character) of 16 or more characters is at least 82 bits when the secret is
/// random, far beyond a chance match, and for a human-chosen secret is three
/// or four words run together, which ordinary output does not hold by
/// accident. Shorter secrets are matched in their exact forms only.
pub const MIN_SKELETON_LEN: usize = 16;

/// An ASCII letter or digit to itself, lowercased; any other byte to 0.
const fn ascii(b: u8) -> u8 {
    match b {
        b'0'..=b'9' | b'a'..=b'z' => b,
        b'A'..=b'Z' => b.to_ascii_lowercase(),
        _ => 0,
    }
}

/// What each byte is to the walk: an ASCII letter or digit, lowercased;
/// [`DROP`] for any other ASCII byte; [`DECODE`] for a byte that starts
/// something to decode (`&`, `\\`, and every byte that is not ASCII).
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const BYTES: [u8; 256] = {
    let mut table = [DECODE; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = ascii(b as u8);
        b += 1;
    }
    table[b'&' as usize] = DECODE;
    table[b'\\' as usize] = DECODE;
    table
};
const DROP: u8 = 0;
const DECODE: u8 = 0xff;

/// The letters of the C and JSON escapes that stand for a separator.
const C_ESCAPES: &[u8] = b"nrtbfv0";

/// The skeleton of `bytes`: the bytes [`walk`] emits. Bytes that need no
/// decoding are written without a branch on what they are (a separator is
/// written and then overwritten), since in ordinary text whether the next
/// byte is a letter or a separator cannot be predicted.
pub(crate) fn skeleton(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; bytes.len()]);
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let class = BYTES.get(usize::from(b)).copied().unwrap_or(DECODE);
        if class != DECODE {
            if let Some(slot) = out.get_mut(n) {
                *slot = class;
            }
            n += usize::from(class != DROP);
            i += 1;
            continue;
        }
        let (len, c) = decode(bytes.get(i..).unwrap_or_default());
        if let Some(c) = c {
            emit_char(c, i, i + len, &mut |_, _, s| {
                match out.get_mut(n) {
                    Some(slot) => *slot = s,
                    None => out.push(s),
                }
                n += 1;
            });
        }
        i += len.max(1);
    }
    out.truncate(n);
    out
}

/// For each of `positions` (indexes into the skeleton of `bytes`, in
/// ascending order), the span of `bytes` its character came from. Positions
/// past the end are left out.
pub(crate) fn spans(bytes: &[u8], positions: &[usize]) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(positions.len());
    let mut next = positions.iter().copied().peekable();
    let mut index = 0;
    walk(bytes, |start, end, _| {
        while next.peek() == Some(&index) {
            out.push((start, end));
            next.next();
        }
        index += 1;
    });
    out
}

/// Calls `emit(start, end, byte)` for each skeleton byte, with the span of
/// `bytes` it came from.
pub(crate) fn walk(bytes: &[u8], mut emit: impl FnMut(usize, usize, u8)) {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let class = BYTES.get(usize::from(b)).copied().unwrap_or(DECODE);
        if class != DECODE {
            if class != DROP {
                emit(i, i + 1, class);
            }
            i += 1;
            continue;
        }
        let (len, c) = decode(bytes.get(i..).unwrap_or_default());
        if let Some(c) = c {
            emit_char(c, i, i + len, &mut emit);
        }
        i += len.max(1);
    }
}

/// What starts `rest` (whose first byte is one to decode): its length, and
/// the character it stands for, if any.
fn decode(rest: &[u8]) -> (usize, Option<char>) {
    match rest.first() {
        Some(b'&') => reference(rest).unwrap_or((1, None)),
        Some(b'\\') if rest.get(1).is_some_and(|n| C_ESCAPES.contains(n)) => (2, None),
        Some(b'\\') => (1, None),
        _ => utf8_char(rest),
    }
}

/// The ASCII letters and digits `c` decomposes to.
fn emit_char(c: char, start: usize, end: usize, emit: &mut impl FnMut(usize, usize, u8)) {
    let mut one = |d: char| {
        if let Ok(b) = u8::try_from(d)
            && ascii(b) != 0
        {
            emit(start, end, ascii(b));
        }
    };
    if c.is_ascii() {
        one(c);
    } else if let Some(b) = invisible_byte(c) {
        one(char::from(b));
    } else {
        unicode_normalization::char::decompose_compatible(c, one);
    }
}

/// The byte an invisible character stands for, in the two sets of them that
/// spell bytes one to one and that no decomposition maps: tag characters
/// (U+E0020..U+E007E are ASCII 0x20..0x7E moved up by U+E0000; a reader
/// subtracts it back) and variation selectors, one a byte, as data is
/// smuggled behind an emoji (bytes 0..15 as U+FE00..U+FE0F, 16..255 as
/// U+E0100..U+E01EF). Dropping them, like other format characters, would
/// hide the letters they spell. In ordinary text they follow an emoji or an
/// ideograph a few at a time (a flag's region, a glyph variant), so the
/// letters they add are too few to make a match.
fn invisible_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    let byte = match code {
        0xE0020..=0xE007E => code - 0xE0000,
        0xFE00..=0xFE0F => code - 0xFE00,
        0xE0100..=0xE01EF => code - 0xE0100 + 16,
        _ => return None,
    };
    u8::try_from(byte).ok()
}

/// The character at the start of `rest` (not ASCII) and its length; one
/// byte and no character when it is not valid UTF-8.
fn utf8_char(rest: &[u8]) -> (usize, Option<char>) {
    let width = match rest.first() {
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return (1, None),
    };
    match rest.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => (width, s.chars().next()),
        _ => (1, None),
    }
}

/// An HTML character reference at the start of `rest` (which starts with
/// `&`): its length and the character it stands for (`None` for one that
/// stands for no letter or digit).
fn reference(rest: &[u8]) -> Option<(usize, Option<char>)> {
    let body = rest.get(1..)?;
    if body.first() == Some(&b'#') {
        let (radix, start, max) = match body.get(1) {
            Some(b'x' | b'X') => (16, 2, 6),
            _ => (10, 1, 7),
        };
        let digits = body
            .get(start..)?
            .iter()
            .take(max + 1)
            .take_while(|b| char::from(**b).is_digit(radix))
            .count();
        if digits == 0 || digits > max {
            return None;
        }
        let text = std::str::from_utf8(body.get(start..start + digits)?).ok()?;
        let code = u32::from_str_radix(text, radix).ok()?;
        let end = 1 + start + digits;
        let len = match rest.get(end) {
            Some(b';') => end + 1,
            Some(b) if b.is_ascii_alphanumeric() => return None,
            _ => end,
        };
        return Some((len, char::from_u32(code)));
    }
    let name_len = body.iter().take(33).take_while(|b| b.is_ascii_alphanumeric()).count();
    if name_len == 0 || name_len > 32 || body.get(name_len) != Some(&b';') {
        return None;
    }
    let name = body.get(..name_len)?;
    Some((name_len + 2, named_letter(name)))
}

/// The letter a named reference stands for: HTML's double-struck
/// (`&Gopf;`), fraktur (`&gfr;`) and script (`&Gscr;`) letters decompose to
/// it. Every other name stands for punctuation, a space or a letter outside
/// ASCII, all separators.
fn named_letter(name: &[u8]) -> Option<char> {
    let (&first, suffix) = name.split_first()?;
    (first.is_ascii_alphabetic() && matches!(suffix, b"opf" | b"fr" | b"scr"))
        .then(|| char::from(first))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::{skeleton, spans, walk};

    /// The skeleton, checked against what the walk emits.
    fn text(bytes: &[u8]) -> String {
        let mut walked = Vec::new();
        walk(bytes, |_, _, b| walked.push(b));
        assert_eq!(skeleton(bytes).as_slice(), walked.as_slice());
        String::from_utf8(walked).unwrap()
    }

    #[test]
    fn separators_case_and_format_characters_go() {
        assert_eq!(text(b"G-h-P_ 1.c\r\n0:d"), "ghp1c0d");
        assert_eq!(text("g\u{200b}h\u{200d}p\u{feff}_\u{ad}1\u{2060}c".as_bytes()), "ghp1c");
        assert_eq!(text("Ｇｈｐ＿１ｃ".as_bytes()), "ghp1c");
        assert_eq!(text("𝐠𝐡𝐩 ① ²".as_bytes()), "ghp12");
        // A character may decompose to more letters than it has bytes.
        assert_eq!(text("\u{2177}\u{2177}".as_bytes()), "viiiviii");
        assert_eq!(text("g\u{301}h\u{332}p".as_bytes()), "ghp");
        assert_eq!(text(b"g\\nh\\tp\\x"), "ghpx");
    }

    #[test]
    fn invisible_characters_that_spell_bytes_are_read_as_them() {
        // Tags, with the language tag and cancel tag around them dropped.
        assert_eq!(
            text("\u{e0001}\u{e0047}\u{e0068}\u{e005f}\u{e0031}\u{e007f}".as_bytes()),
            "gh1"
        );
        // Variation selectors: U+E0100 is byte 16, so U+E0157 is `g`; those
        // below 16 and bytes past ASCII are no letter.
        assert_eq!(text("\u{2764}\u{fe0f}\u{e0157}\u{e0121}\u{e01ef}".as_bytes()), "g1");
    }

    #[test]
    fn html_references_are_decoded() {
        assert_eq!(text(b"&#103;&#x68;p&lowbar;&#49&#X63; &Dopf;&efr;&nbsp;"), "ghp1cde");
        // Not a reference: a letter or digit runs on, or no `;` after a name.
        assert_eq!(text(b"&#52f9"), "52f9");
        assert_eq!(text(b"&amp x"), "ampx");
        assert_eq!(text(b"&#99999999;"), "99999999");
    }

    #[test]
    fn utf16_and_invalid_bytes_are_read_through() {
        let utf16: Vec<u8> = "ghp_1c".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(text(&utf16), "ghp1c");
        assert_eq!(text(b"a\xffb\xc3(c\xe2\x82"), "abc");
    }

    #[test]
    fn spans_point_back_at_the_source() {
        let source = "x&#103;Ｈ-p".as_bytes();
        assert_eq!(text(source), "xghp");
        assert_eq!(spans(source, &[0, 1, 2, 3, 9]), [(0, 1), (1, 7), (7, 10), (11, 12)]);
    }
}
