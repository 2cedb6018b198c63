#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use warrant_vault::fragments::Exposure;
use warrant_vault::scan::LeakScanner;
use warrant_vault::{SecretValue, placeholder_for};

/// A GitHub-shaped token, assembled so the repository holds none.
fn token() -> String {
    ["gh", "p_", "1c0dQ4e9fZ2a", "7bK857aX3c6d", "M1e0fR9b2cW4d6eT"].concat()
}

fn scanner() -> LeakScanner {
    let secret = SecretValue::from_string(token());
    LeakScanner::new(&[("github", &secret)]).unwrap()
}

/// The token's characters after its `ghp_` prefix, cut in `n` pieces.
fn pieces(n: usize) -> Vec<String> {
    let body: Vec<char> = token()[4..].chars().collect();
    body.chunks(body.len().div_ceil(n)).map(|c| c.iter().collect()).collect()
}

#[test]
fn a_secret_split_across_parts_in_any_order_is_found() {
    let s = scanner();
    let p = pieces(2);
    // Not next to each other, and in the wrong order: the joined scan
    // cannot see it.
    let parts: [&[u8]; 3] = [p[1].as_bytes(), b"x-unrelated: 1", p[0].as_bytes()];
    assert!(s.scan_parts(&parts).is_empty());
    let leaks = Exposure::default().admit(&s, &s.fragments(&parts));
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    assert_eq!(leaks[0].name, "github");
}

#[test]
fn fragments_across_the_messages_of_a_session_add_up_to_a_block() {
    let s = scanner();
    let mut session = Exposure::default();
    let p = pieces(5);
    // A fifth, disguised, then another: under half, they go.
    let first = format!("note {}", p[2].chars().map(|c| format!("{c} ")).collect::<String>());
    assert!(session.admit(&s, &s.fragments(&[first.as_bytes()])).is_empty());
    assert!(session.admit(&s, &s.fragments(&[p[0].as_bytes()])).is_empty());
    assert_eq!(session.secrets_seen(), 1);
    // The third reaches half: refused, and not added.
    let leaks = session.admit(&s, &s.fragments(&[p[3].as_bytes()]));
    assert_eq!(leaks.len(), 1);
    assert!(leaks[0].covered >= leaks[0].threshold);
    assert!(!session.admit(&s, &s.fragments(&[p[3].as_bytes()])).is_empty());
    // Another session starts from nothing.
    assert!(Exposure::default().admit(&s, &s.fragments(&[p[3].as_bytes()])).is_empty());
}

#[test]
fn pieces_shorter_than_a_gram_and_the_placeholder_count_for_nothing() {
    let s = scanner();
    let mut session = Exposure::default();
    let body = &token()[4..];
    for piece in body.as_bytes().chunks(7) {
        assert!(s.fragments(&[piece]).is_empty());
    }
    let placeholder = placeholder_for(&SecretValue::from_string(token())).unwrap();
    for _ in 0..10 {
        let call = format!("Authorization: Bearer {placeholder}");
        assert!(session.admit(&s, &s.fragments(&[call.as_bytes()])).is_empty());
    }
    // The shared prefix and ordinary words are not grams of the secret.
    assert!(s.fragments(&[b"ghp_ github token summer2024 vacation"]).is_empty());
}

#[test]
fn a_new_value_under_the_same_name_starts_from_nothing() {
    let s = scanner();
    let mut session = Exposure::default();
    let p = pieces(4);
    assert!(session.admit(&s, &s.fragments(&[p[0].as_bytes()])).is_empty());
    let rotated = SecretValue::from_string(["gh", "p_", &"7Qx2".repeat(9)].concat());
    let s2 = LeakScanner::new(&[("github", &rotated)]).unwrap();
    assert!(session.admit(&s2, &s2.fragments(&[b"nothing"])).is_empty());
    assert_eq!(session.secrets_seen(), 0);
}

#[test]
fn fragments_show_no_secret() {
    let s = scanner();
    let fragments = s.fragments(&[token().as_bytes()]);
    let mut session = Exposure::default();
    let leaks = session.admit(&s, &fragments);
    let shown = format!("{fragments:?} {session:?} {leaks:?}");
    assert!(!shown.contains(&token()[4..12]), "{shown}");
}
