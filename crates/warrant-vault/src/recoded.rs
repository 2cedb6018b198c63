//! Forms a secret takes when it is hidden on purpose with a one-liner: the
//! letters rotated or mirrored (rot13, rot47, any shift along the alphabet,
//! Atbash, reversed), every byte as a C escape (`\x5a`, `\132`, `\0132`), or
//! every byte as a number in a list (`90,120,…`, `0x5a, 0x78`,
//! `chr(90)+chr(120)`, `01011010 01111000`, octal).
//!
//! Two kinds, matched by different passes of the leak scanner:
//! - [`exact_forms`]: the C escapes as `printf` and C read them, matched
//!   byte for byte (so the streaming mask finds them too) and, by their
//!   skeletons, in disguise (mixed case, separators);
//! - [`skeleton_forms`]: skeletons ([`crate::skeleton`]) only, for forms
//!   whose separators or case vary too much to list: a list of numbers'
//!   skeleton is its digits run together, so one form stands for every
//!   separator (`,`, `, `, `;\n`, `+`); a shift along the alphabet is a
//!   shift of the skeleton's letters. Rotations are here, not exact: their
//!   first bytes are as varied as the secrets', and as exact forms they
//!   halved the exact pass's speed (its prefilter looks for a few bytes
//!   patterns start with).
//!
//! Deliberately not: a number list with letters between its numbers other
//! than the prefixes listed here (`chr`, `0x`, `0b`, `\u{`), numbers of
//! another width than the one each radix is written with here (decimal and
//! `0b` binary unpadded, octal in three digits, binary in eight), a shift of
//! the digits other than rot5 alone or with rot13, pieces of these forms
//! (the fragment index counts pieces of the secret's own skeleton only),
//! and rot47 of a secret whose rot47 keeps fewer than
//! [`crate::skeleton::MIN_SKELETON_LEN`] letters and digits (rot47 turns
//! about half of them into punctuation, which the skeleton drops: a secret
//! of 20 random characters keeps about 12). Every buffer that may hold a
//! secret is `Zeroizing`.

use crate::forms::Form;
use crate::scan::Encoding;
use crate::skeleton::skeleton;
use zeroize::{Zeroize, Zeroizing};

/// The forms matched exactly, reported as [`Encoding::Normalized`]: every
/// byte as `\xNN` (either case), `\NNN` and `\0NNN`. Each begins with a
/// backslash, which the scanner's automaton for them looks for first.
pub(crate) fn exact_forms(secret: &[u8]) -> Vec<Form> {
    let mut forms = Vec::new();
    for upper in [false, true] {
        forms.push((each_byte(secret, b"\\x", 16, 2, upper), Encoding::Normalized));
    }
    forms.push((each_byte(secret, b"\\", 8, 3, false), Encoding::Normalized));
    forms.push((each_byte(secret, b"\\0", 8, 3, false), Encoding::Normalized));
    forms
}

/// The skeletons of the forms that are matched only in disguise: every
/// shift of the letters (rot13 among them), rot5 and rot18 (the digits
/// rotated by five, alone or with rot13), rot47, Atbash, the secret
/// reversed, and the secret as a list of its bytes (and, for a secret that
/// is not ASCII, of its characters) in decimal, hex, octal and binary.
pub(crate) fn skeleton_forms(secret: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let skel = skeleton(secret);
    let mut forms = Vec::new();
    // Every shift of the letters; the digits rotated by five only as rot5
    // and rot18 (rot13 and rot5) do, not with every shift, which would
    // double the patterns for shifts no tool makes.
    let shifts = (1..26).map(|letters| (letters, 0)).chain([(0, 5), (13, 5)]);
    for (letters, digits) in shifts {
        forms.push(Zeroizing::new(skel.iter().map(|&b| shift(b, letters, digits)).collect()));
    }
    let rotated: Zeroizing<Vec<u8>> = Zeroizing::new(secret.iter().map(|&b| rot47(b)).collect());
    forms.push(skeleton(&rotated));
    forms.push(Zeroizing::new(skel.iter().map(|&b| atbash(b)).collect()));
    forms.push(Zeroizing::new(skel.iter().rev().copied().collect()));
    let numbers: [(&[u8], u32, usize); 7] = [
        (b"", 10, 1),
        // Python's and PHP's `chr(90)`.
        (b"chr", 10, 1),
        // C's and Python's byte arrays.
        (b"0x", 16, 2),
        (b"", 8, 3),
        (b"", 2, 8),
        // Python's `bin()`.
        (b"0b", 2, 1),
        // `\u{5a}` (Rust, JavaScript, Swift) and `U+5A` read as numbers.
        (b"u", 16, 1),
    ];
    for (prefix, radix, width) in numbers {
        forms.push(skeleton(&each_byte(secret, prefix, radix, width, false)));
    }
    // JavaScript's `charCodeAt` and Python's `ord` give characters, not bytes.
    if let Ok(text) = std::str::from_utf8(secret)
        && !text.is_ascii()
    {
        for (prefix, radix, width) in [(&b""[..], 10, 1), (b"u", 16, 1), (b"0x", 16, 2)] {
            let mut out = Zeroizing::new(Vec::new());
            for c in text.chars() {
                out.extend_from_slice(prefix);
                push_number(&mut out, u32::from(c), radix, width, false);
            }
            forms.push(skeleton(&out));
        }
    }
    forms
}

/// `b` with ASCII letters moved `letters` places along the alphabet and
/// digits `digits` places, both wrapping around.
fn shift(b: u8, letters: u8, digits: u8) -> u8 {
    let rotate = |base: u8, size: u8, by: u8| base + (b - base + by % size) % size;
    match b {
        b'a'..=b'z' => rotate(b'a', 26, letters),
        b'A'..=b'Z' => rotate(b'A', 26, letters),
        b'0'..=b'9' => rotate(b'0', 10, digits),
        _ => b,
    }
}

/// rot47: printable ASCII but the space rotated by half of its 94 characters.
fn rot47(b: u8) -> u8 {
    match b {
        b'!'..=b'~' => b'!' + (b - b'!' + 47) % 94,
        _ => b,
    }
}

/// The alphabet mirrored: `a` for `z`, `b` for `y`.
fn atbash(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => b'z' - (b - b'a'),
        b'A'..=b'Z' => b'Z' - (b - b'A'),
        _ => b,
    }
}

/// Every byte of `bytes` as `prefix` and then the byte in `radix`, with at
/// least `width` digits.
fn each_byte(
    bytes: &[u8],
    prefix: &[u8],
    radix: u32,
    width: usize,
    upper: bool,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * (prefix.len() + 8)));
    for &b in bytes {
        out.extend_from_slice(prefix);
        push_number(&mut out, u32::from(b), radix, width, upper);
    }
    out
}

/// Appends `value` written in `radix` (2 to 16) with at least `width` digits.
fn push_number(out: &mut Vec<u8>, value: u32, radix: u32, width: usize, upper: bool) {
    // Digits, least significant first: 32 are enough for a `u32` in base 2.
    let mut digits = [0u8; 32];
    let mut len = 0;
    let mut rest = value;
    while len < digits.len() && (rest > 0 || len < width.max(1)) {
        let digit = char::from_digit(rest % radix, radix).map_or(b'0', |d| d as u8);
        if let Some(slot) = digits.get_mut(len) {
            *slot = if upper { digit.to_ascii_uppercase() } else { digit };
        }
        rest /= radix;
        len += 1;
    }
    out.extend(digits.iter().take(len).rev());
    digits.zeroize();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::{exact_forms, skeleton_forms};

    fn text(form: &[u8]) -> String {
        String::from_utf8(form.to_vec()).unwrap()
    }

    #[test]
    fn exact_forms_are_written_as_their_tools_write_them() {
        let forms: Vec<String> = exact_forms(b"Zx9~").iter().map(|(f, _)| text(f)).collect();
        assert_eq!(
            forms,
            [
                r"\x5a\x78\x39\x7e",
                r"\x5A\x78\x39\x7E",
                r"\132\170\071\176",
                r"\0132\0170\0071\0176"
            ]
        );
    }

    #[test]
    fn skeleton_forms_cover_shifts_mirrors_and_numbers() {
        let forms: Vec<String> = skeleton_forms(b"Az9").iter().map(|f| text(f)).collect();
        for expected in [
            "az4",
            "pkh",
            "ba9",
            "zy9",
            "nm9",
            "nm4",
            "za9",
            "9za",
            "6512257",
            "chr65chr122chr57",
            "0x410x7a0x39",
            "101172071",
            "010000010111101000111001",
            "0b10000010b11110100b111001",
            "u41u7au39",
        ] {
            assert!(forms.iter().any(|f| f == expected), "{expected} not in {forms:?}");
        }
        // Characters, not only bytes, for a secret that is not ASCII.
        let forms: Vec<String> = skeleton_forms("é1".as_bytes()).iter().map(|f| text(f)).collect();
        assert!(forms.iter().any(|f| f == "23349"), "{forms:?}");
        assert!(forms.iter().any(|f| f == "19516949"), "{forms:?}");
    }
}
