#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use warrant_vault::placeholder::{MIN_PLACEHOLDER_BITS, placeholder_for};
use warrant_vault::{SecretValue, VaultError};

fn secret(s: &str) -> SecretValue {
    SecretValue::from_string(s.to_owned())
}

/// Deterministic characters from `alphabet`, so the repository holds no
/// string that looks like a live token.
fn fill(alphabet: &str, len: usize, seed: u64) -> String {
    let alphabet = alphabet.as_bytes();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// (the prefix a placeholder must keep, a fake token with it)
fn samples() -> Vec<(&'static str, String)> {
    let join = |parts: &[&str]| parts.concat();
    vec![
        ("ghp_", join(&["gh", "p_", &fill(ALNUM, 36, 1)])),
        ("gho_", join(&["gh", "o_", &fill(ALNUM, 36, 2)])),
        ("github_pat_", join(&["github", "_pat_", &fill(ALNUM, 22, 3), "_", &fill(ALNUM, 59, 4)])),
        ("glpat-", join(&["gl", "pat-", &fill(B64URL, 20, 5)])),
        ("sk-", join(&["s", "k-", &fill(ALNUM, 48, 6)])),
        ("sk-proj-", join(&["sk-", "proj-", &fill(B64URL, 120, 7)])),
        ("sk-ant-api03-", join(&["sk-", "ant-api03-", &fill(B64URL, 93, 8), "AA"])),
        (
            "xoxb-",
            join(&[
                "xo",
                "xb-",
                &fill("0123456789", 12, 9),
                "-",
                &fill("0123456789", 13, 10),
                "-",
                &fill(ALNUM, 24, 11),
            ]),
        ),
        ("AKIA", join(&["AK", "IA", &fill("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 12)])),
        ("ASIA", join(&["AS", "IA", &fill("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 13)])),
        (
            "hf_",
            join(&[
                "h",
                "f_",
                &fill("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34, 14),
            ]),
        ),
        ("npm_", join(&["np", "m_", &fill(ALNUM, 36, 15)])),
        ("sk_live_", join(&["sk_", "live_", &fill(ALNUM, 24, 16)])),
        ("dop_v1_", join(&["dop", "_v1_", &fill("0123456789abcdef", 64, 17)])),
        ("AIza", join(&["AI", "za", &fill(B64URL, 35, 18)])),
        // An unknown format: the general rule keeps the short lowercase segment.
        ("acme_", join(&["acme", "_", &fill(ALNUM, 30, 19)])),
        // No prefix at all.
        ("", fill(ALNUM, 40, 20)),
    ]
}

fn class(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => b'a',
        b'A'..=b'Z' => b'A',
        b'0'..=b'9' => b'0',
        other => other,
    }
}

#[test]
fn placeholders_keep_length_prefix_and_character_classes() {
    for (prefix, token) in samples() {
        let p = placeholder_for(&secret(&token)).unwrap();
        let shown = p.as_str();
        assert_eq!(shown.len(), token.len(), "{prefix}");
        assert_ne!(shown, token);
        assert!(shown.starts_with(prefix), "{prefix}: {shown}");
        assert_eq!(p.kept_prefix(), prefix);
        assert!(p.randomness_bits() >= MIN_PLACEHOLDER_BITS);
        for (i, (a, b)) in shown.bytes().zip(token.bytes()).enumerate().skip(prefix.len()) {
            // A hex body may trade letters for digits; it stays hex.
            let hex = a.is_ascii_hexdigit() && b.is_ascii_hexdigit();
            assert!(class(a) == class(b) || hex, "{prefix}: byte {i} of {shown}");
        }
        // Valid as an HTTP header value and an environment variable.
        assert!(shown.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{shown}");
    }
}

#[test]
fn a_hex_body_gets_hex_digits_of_the_same_case() {
    let lower = ["dop_v1_", &fill("0123456789abcdef", 64, 30)].concat();
    let upper = fill("0123456789ABCDEF", 40, 31);
    for (token, digits) in [(lower, "0123456789abcdef"), (upper, "0123456789ABCDEF")] {
        let p = placeholder_for(&secret(&token)).unwrap();
        let body = &p.as_str()[p.kept_prefix().len()..];
        assert!(body.chars().all(|c| digits.contains(c)), "{body}");
        // Over many characters, letters and digits both turn up anywhere.
        assert!(body.chars().any(|c| c.is_ascii_digit()));
        assert!(body.chars().any(|c| c.is_ascii_alphabetic()));
    }
}

#[test]
fn punctuation_and_spaces_stay_in_place() {
    let token = "wJal/rXUt+nFEMI/K7MDENG+bPxR=fiCY 0123 ab";
    let p = placeholder_for(&secret(token)).unwrap();
    for (a, b) in p.as_str().bytes().zip(token.bytes()) {
        if !b.is_ascii_alphanumeric() {
            assert_eq!(a, b);
        }
    }
}

#[test]
fn each_call_gives_a_fresh_placeholder() {
    let token = ["gh", "p_", &fill(ALNUM, 36, 40)].concat();
    let a = placeholder_for(&secret(&token)).unwrap();
    let b = placeholder_for(&secret(&token)).unwrap();
    assert_ne!(a, b);
}

#[test]
fn a_secret_too_short_to_hide_is_refused() {
    for short in ["hunter2", "ghp_abc123", "0123456789abcde", "AKIA0123456789AB"] {
        let err = placeholder_for(&secret(short)).unwrap_err();
        assert!(matches!(err, VaultError::PlaceholderTooWeak { .. }), "{short}: {err:?}");
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("too short to placeholder"), "{shown}");
        assert!(!shown.contains(short), "{shown}");
    }
    // 16 hex digits, or 16 letters and digits of mixed case, carry enough.
    assert!(placeholder_for(&secret("0123456789abcdef")).is_ok());
    assert!(placeholder_for(&secret("aB3dE6gH9jK2mNpQ")).is_ok());
}

#[test]
fn a_secret_that_is_not_a_valid_header_value_is_refused() {
    for bad in [
        "line\nbreak-0123456789abcdefghij",
        " leading-0123456789abcdefghij",
        "ünïcode-0123456789abcdefghij",
    ] {
        let err = placeholder_for(&secret(bad)).unwrap_err();
        assert!(matches!(err, VaultError::PlaceholderUnsupported { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(bad));
    }
    assert!(placeholder_for(&SecretValue::new(vec![0xff; 40])).is_err());
}
