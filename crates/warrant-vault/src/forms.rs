//! The encoded forms a byte string takes on the way out of a process, shared
//! by the leak scanner (which looks for every form of a secret) and the
//! swapper (which replaces a form of a placeholder with the same form of the
//! secret).
//!
//! Every buffer that may hold a secret is `Zeroizing`.

use crate::scan::Encoding;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// One form of a byte string and how it was made.
pub(crate) type Form = (Zeroizing<Vec<u8>>, Encoding);

/// Forms in which each input byte becomes a run of output bytes whose length
/// depends only on the byte's class: ASCII letters and digits always become
/// one byte (raw, URL-, form- and JSON-escaped) or a fixed number (hex,
/// percent-encoding of every byte, `\u` escapes), and every other byte is
/// treated the same wherever it occurs. So two strings of printable ASCII that
/// agree on every byte that is not a letter or digit have forms of equal
/// length, position by position: the swapper relies on this.
///
/// The hex, every-byte percent and `\u` forms come in both cases.
pub(crate) fn positional_forms(bytes: &[u8]) -> Vec<Form> {
    let mut forms = vec![(Zeroizing::new(bytes.to_vec()), Encoding::Raw)];
    forms.extend(escaped_forms(bytes));
    for upper in [false, true] {
        let (hex, encoding) = if upper {
            (hex::encode_upper(bytes), Encoding::HexUpper)
        } else {
            (hex::encode(bytes), Encoding::HexLower)
        };
        forms.push((Zeroizing::new(hex.into_bytes()), encoding));
        forms.push((percent_encode(bytes, keep_none, false, upper), Encoding::UrlEncodedAll));
        if let Some(json) = json_unicode_escape(bytes, upper) {
            forms.push((json, Encoding::JsonEscaped));
        }
    }
    forms
}

/// The forms the leak scanner looks for, split into those matched exactly and
/// those matched ignoring ASCII case (hex). Only the raw form for a secret
/// shorter than `min_encoded_len`.
pub(crate) fn leak_forms(secret: &[u8], min_encoded_len: usize) -> (Vec<Form>, Vec<Form>) {
    let mut exact = vec![(Zeroizing::new(secret.to_vec()), Encoding::Raw)];
    if secret.len() < min_encoded_len {
        return (exact, Vec::new());
    }
    exact.extend(escaped_forms(secret));
    exact.extend(base64_forms(secret));
    exact.extend(utf16_forms(secret));
    for upper in [false, true] {
        exact.push((percent_encode(secret, keep_none, false, upper), Encoding::UrlEncodedAll));
        if let Some(json) = json_unicode_escape(secret, upper) {
            exact.push((json, Encoding::JsonEscaped));
        }
    }
    // Hex in any mix of cases. Only hex: with the `%` and `\u` forms in
    // this automaton too, its prefilter stops working and the scan runs
    // several times slower.
    let mut folded = vec![(Zeroizing::new(hex::encode(secret).into_bytes()), Encoding::HexLower)];
    // A secret that is itself hex (many API keys are) may be sent in the
    // other case.
    if secret.iter().all(u8::is_ascii_hexdigit) && secret.iter().any(u8::is_ascii_alphabetic) {
        folded.push((Zeroizing::new(secret.to_ascii_lowercase()), Encoding::Raw));
    }
    (exact, folded)
}

/// UTF-16, little- and big-endian, of a secret that is UTF-8.
fn utf16_forms(secret: &[u8]) -> Vec<Form> {
    let Ok(text) = std::str::from_utf8(secret) else { return Vec::new() };
    let units = || text.encode_utf16();
    let le = Zeroizing::new(units().flat_map(u16::to_le_bytes).collect());
    let be = Zeroizing::new(units().flat_map(u16::to_be_bytes).collect());
    vec![(le, Encoding::Utf16), (be, Encoding::Utf16)]
}

/// URL-, form- and JSON-escaped forms that are matched exactly.
fn escaped_forms(bytes: &[u8]) -> Vec<Form> {
    let mut forms = Vec::new();
    for upper in [true, false] {
        forms.push((percent_encode(bytes, keep_unreserved, false, upper), Encoding::UrlEncoded));
        // `application/x-www-form-urlencoded`, space as `+`: the WHATWG set
        // (browsers, Node's URLSearchParams) and Python's `quote_plus`.
        forms.push((percent_encode(bytes, keep_whatwg_form, true, upper), Encoding::UrlEncoded));
        forms.push((percent_encode(bytes, keep_unreserved, true, upper), Encoding::UrlEncoded));
    }
    let Ok(text) = std::str::from_utf8(bytes) else { return forms };
    // Serializing a string cannot fail.
    let Ok(json) = serde_json::to_string(text).map(Zeroizing::new) else { return forms };
    let inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default();
    forms.push((Zeroizing::new(inner.as_bytes().to_vec()), Encoding::JsonEscaped));
    // PHP's `json_encode` escapes `/`; Go's `encoding/json` escapes HTML
    // characters and the two JavaScript line terminators.
    let php = Zeroizing::new(inner.replace('/', "\\/"));
    forms.push((Zeroizing::new(php.as_bytes().to_vec()), Encoding::JsonEscaped));
    let go = Zeroizing::new(
        inner
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029"),
    );
    forms.push((Zeroizing::new(go.as_bytes().to_vec()), Encoding::JsonEscaped));
    forms
}

fn base64_forms(secret: &[u8]) -> Vec<Form> {
    let text = |s: String| Zeroizing::new(s.into_bytes());
    let mut forms = Vec::new();
    for (padded, unpadded, encoding) in [
        (STANDARD, STANDARD_NO_PAD, Encoding::Base64),
        (URL_SAFE, URL_SAFE_NO_PAD, Encoding::Base64Url),
    ] {
        // The whole encoding, for a secret at the end of a stream.
        forms.push((text(padded.encode(secret)), encoding));
        forms.push((text(unpadded.encode(secret)), encoding));
        for filler in 0..3 {
            forms.push((base64_middle(&unpadded, secret, filler), encoding));
        }
    }
    forms
}

/// The base64 characters that depend only on `secret` when it starts
/// `filler` bytes (0, 1 or 2) past a 3-byte boundary of a longer stream:
/// characters that also cover a neighbouring byte are dropped at both ends.
fn base64_middle(
    engine: &base64::engine::GeneralPurpose,
    secret: &[u8],
    filler: usize,
) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(vec![0u8; filler]);
    input.extend_from_slice(secret);
    let encoded = Zeroizing::new(engine.encode(input.as_slice()));
    let start = (8 * filler).div_ceil(6);
    let end = 8 * (filler + secret.len()) / 6;
    Zeroizing::new(encoded.as_bytes().get(start..end).unwrap_or_default().to_vec())
}

fn keep_none(_: u8) -> bool {
    false
}

/// RFC 3986's unreserved set.
fn keep_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The WHATWG URL standard's `application/x-www-form-urlencoded` set.
fn keep_whatwg_form(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_')
}

/// Percent-encodes the bytes `keep` refuses; a space becomes `+` when
/// `space_plus`.
fn percent_encode(
    bytes: &[u8],
    keep: fn(u8) -> bool,
    space_plus: bool,
    upper: bool,
) -> Zeroizing<Vec<u8>> {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let digits = if upper { UPPER } else { LOWER };
    let digit = |nibble: u8| digits.get(usize::from(nibble)).copied().unwrap_or(b'0');
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 3));
    for &b in bytes {
        if keep(b) {
            out.push(b);
        } else if space_plus && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', digit(b >> 4), digit(b & 0x0f)]);
        }
    }
    out
}

/// Every character as a JSON `\uXXXX` escape (UTF-16 code units), or `None`
/// when `bytes` is not UTF-8.
fn json_unicode_escape(bytes: &[u8], upper: bool) -> Option<Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 6));
    for unit in text.encode_utf16() {
        let escaped =
            Zeroizing::new(if upper { format!("\\u{unit:04X}") } else { format!("\\u{unit:04x}") });
        out.push_str(&escaped);
    }
    Some(Zeroizing::new(out.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::positional_forms;

    #[test]
    fn positional_forms_of_same_shaped_strings_have_equal_lengths() {
        let a = positional_forms(b"ab12/+ x<\"&Z~*");
        let b = positional_forms(b"QQ90/+ k<\"&a~*");
        assert_eq!(a.len(), b.len());
        for ((fa, ea), (fb, eb)) in a.iter().zip(&b) {
            assert_eq!(ea, eb);
            assert_eq!(fa.len(), fb.len(), "{ea:?}");
        }
    }
}
