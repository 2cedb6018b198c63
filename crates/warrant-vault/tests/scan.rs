#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use warrant_vault::SecretValue;
use warrant_vault::scan::{Encoding, LeakScanner};

const TOKEN: &str = "sk-live-4f9a8b7c6d5e4f3a2b1c";

fn scanner(secrets: &[(&str, &str)]) -> LeakScanner {
    let values: Vec<SecretValue> =
        secrets.iter().map(|(_, v)| SecretValue::from_string((*v).to_owned())).collect();
    let pairs: Vec<(&str, &SecretValue)> =
        secrets.iter().zip(&values).map(|((n, _), v)| (*n, v)).collect();
    LeakScanner::new(&pairs).unwrap()
}

fn encodings(scanner: &LeakScanner, haystack: &[u8]) -> Vec<(String, Encoding)> {
    scanner.scan(haystack).into_iter().map(|f| (f.name, f.encoding)).collect()
}

#[test]
fn finds_the_raw_secret_with_its_offset() {
    let s = scanner(&[("stripe", TOKEN)]);
    let haystack = format!("{{\"arg\": \"{TOKEN}\"}}");
    let findings = s.scan(haystack.as_bytes());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].name, "stripe");
    assert_eq!(findings[0].encoding, Encoding::Raw);
    assert_eq!(findings[0].offset, 9);
    assert_eq!(findings[0].len, TOKEN.len());
}

#[test]
fn finds_base64_at_every_alignment_inside_longer_data() {
    let s = scanner(&[("stripe", TOKEN)]);
    for prefix_len in 0..6 {
        for suffix_len in [0, 1, 2, 7] {
            let mut data = vec![b'A'; prefix_len];
            data.extend_from_slice(TOKEN.as_bytes());
            data.extend(std::iter::repeat_n(b'z', suffix_len));
            let encoded = STANDARD.encode(&data);
            let found = encodings(&s, format!("payload={encoded};").as_bytes());
            assert_eq!(
                found,
                [("stripe".to_owned(), Encoding::Base64)],
                "prefix {prefix_len}, suffix {suffix_len}: {encoded}"
            );
        }
    }
}

#[test]
fn finds_url_safe_base64_without_padding() {
    // Bytes chosen so that the standard and URL-safe alphabets differ.
    let secret = "\u{ff}\u{fe}secret>>??value";
    let s = scanner(&[("weird", secret)]);
    let encoded = URL_SAFE_NO_PAD.encode(format!("x{secret}yz"));
    assert!(encoded.contains('-') || encoded.contains('_'), "{encoded}");
    assert_eq!(encodings(&s, encoded.as_bytes()), [("weird".to_owned(), Encoding::Base64Url)]);
}

#[test]
fn finds_hex_in_both_cases() {
    let s = scanner(&[("stripe", TOKEN)]);
    let lower = hex::encode(TOKEN);
    let upper = hex::encode_upper(TOKEN);
    assert_eq!(
        encodings(&s, format!("0x{lower}").as_bytes()),
        [("stripe".to_owned(), Encoding::HexLower)]
    );
    assert_eq!(
        encodings(&s, format!("0x{upper}").as_bytes()),
        [("stripe".to_owned(), Encoding::HexUpper)]
    );
}

#[test]
fn finds_url_encoded_forms() {
    let secret = "p@ss/word+with spaces";
    let s = scanner(&[("pw", secret)]);
    let minimal = "https://x.example/?q=p%40ss%2Fword%2Bwith%20spaces&y=1";
    assert_eq!(encodings(&s, minimal.as_bytes()), [("pw".to_owned(), Encoding::UrlEncoded)]);
    let every: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
    assert_eq!(encodings(&s, every.as_bytes()), [("pw".to_owned(), Encoding::UrlEncodedAll)]);
}

#[test]
fn finds_json_escaped_secret_with_quote_and_backslash() {
    let secret = r#"ab"cd\ef\ngh"#;
    let s = scanner(&[("quoted", secret)]);
    let json = serde_json::json!({ "password": secret }).to_string();
    assert!(!json.contains(secret));
    assert_eq!(encodings(&s, json.as_bytes()), [("quoted".to_owned(), Encoding::JsonEscaped)]);
}

#[test]
fn unrelated_text_has_no_findings() {
    let s = scanner(&[("stripe", TOKEN), ("pw", "correct horse battery")]);
    let text =
        "The quick brown fox jumps over the lazy dog. sk-live-0000 c2stbGl2ZQ== 736b2d6c697665";
    assert!(s.scan(text.as_bytes()).is_empty());
    assert!(s.scan(b"").is_empty());
}

#[test]
fn short_secrets_are_matched_raw_only() {
    let s = scanner(&[("pin", "1234567")]);
    assert_eq!(encodings(&s, b"pin=1234567"), [("pin".to_owned(), Encoding::Raw)]);
    assert!(s.scan(STANDARD.encode("1234567").as_bytes()).is_empty());
    assert!(s.scan(hex::encode("1234567").as_bytes()).is_empty());
}

#[test]
fn redact_replaces_each_match_with_the_name() {
    let s = scanner(&[("stripe", TOKEN), ("pw", "correct horse battery")]);
    let text = format!("a {TOKEN} b {} c correct horse battery", STANDARD.encode(TOKEN));
    assert_eq!(s.redact(&text), "a [REDACTED:stripe] b [REDACTED:stripe] c [REDACTED:pw]");
    assert_eq!(s.redact("nothing here"), "nothing here");
}

#[test]
fn findings_and_debug_never_contain_the_secret() {
    let s = scanner(&[("stripe", TOKEN)]);
    let findings = s.scan(format!("{TOKEN} {}", hex::encode(TOKEN)).as_bytes());
    assert_eq!(findings.len(), 2);
    let shown = format!("{findings:?} {} {s:?}", serde_json::to_string(&findings).unwrap());
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains(&hex::encode(TOKEN)), "{shown}");
    assert!(shown.contains("stripe"));
}

#[test]
fn many_secrets_are_each_found_by_name() {
    let values: Vec<String> = (0..1000).map(|i| format!("secret-{i:04}-abcdefgh")).collect();
    let names: Vec<String> = (0..1000).map(|i| format!("cred{i}")).collect();
    let pairs: Vec<(&str, &str)> =
        names.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
    let s = scanner(&pairs);
    assert_eq!(s.secret_count(), 1000);
    let found = encodings(&s, format!("x {} y", STANDARD.encode(&values[777])).as_bytes());
    assert_eq!(found, [("cred777".to_owned(), Encoding::Base64)]);
}

#[test]
fn form_encoded_secret_with_spaces_is_found() {
    let secret = "correct horse battery~staple*";
    let s = scanner(&[("pw", secret)]);
    // Python's quote_plus: `~` kept, `*` escaped.
    let python = "user=al&password=correct+horse+battery~staple%2A&next=%2F";
    assert_eq!(encodings(&s, python.as_bytes()), [("pw".to_owned(), Encoding::UrlEncoded)]);
    // WHATWG (browsers, URLSearchParams): `~` escaped, `*` kept.
    let whatwg = "password=correct+horse+battery%7Estaple*";
    assert_eq!(encodings(&s, whatwg.as_bytes()), [("pw".to_owned(), Encoding::UrlEncoded)]);
    let lower = "password=correct+horse+battery%7estaple*";
    assert_eq!(encodings(&s, lower.as_bytes()), [("pw".to_owned(), Encoding::UrlEncoded)]);
}

#[test]
fn json_unicode_escapes_of_every_character_are_found_in_both_cases() {
    let s = scanner(&[("stripe", TOKEN)]);
    let lower: String = TOKEN.bytes().map(|b| format!("\\u{b:04x}")).collect();
    let upper: String = TOKEN.bytes().map(|b| format!("\\u{b:04X}")).collect();
    assert_ne!(lower, upper);
    for escaped in [lower, upper] {
        let json = format!("{{\"key\": \"{escaped}\"}}");
        assert_eq!(
            encodings(&s, json.as_bytes()),
            [("stripe".to_owned(), Encoding::JsonEscaped)],
            "{json}"
        );
    }
}

#[test]
fn json_with_escaped_slashes_or_html_characters_is_found() {
    let secret = "a/b<c>d&e/f0123";
    let s = scanner(&[("odd", secret)]);
    let php = r#"{"k":"a\/b<c>d&e\/f0123"}"#;
    let go = r#"{"k":"a/b\u003cc\u003ed\u0026e/f0123"}"#;
    for json in [php, go] {
        assert_eq!(encodings(&s, json.as_bytes()), [("odd".to_owned(), Encoding::JsonEscaped)]);
    }
}

#[test]
fn mixed_case_hex_is_found() {
    let s = scanner(&[("stripe", TOKEN)]);
    let mixed: String = hex::encode(TOKEN)
        .chars()
        .enumerate()
        .map(|(i, c)| if i % 3 == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    assert!(mixed.bytes().any(|b| b.is_ascii_uppercase()));
    assert!(mixed.bytes().any(|b| b.is_ascii_lowercase()));
    assert_eq!(encodings(&s, mixed.as_bytes()), [("stripe".to_owned(), Encoding::HexLower)]);
}

#[test]
fn a_hex_secret_is_found_raw_in_the_other_case() {
    let secret = "9f86d081884c7d659a2feaa0c55ad015";
    let s = scanner(&[("hexkey", secret)]);
    let upper = format!("key={}", secret.to_ascii_uppercase());
    assert_eq!(encodings(&s, upper.as_bytes()), [("hexkey".to_owned(), Encoding::Raw)]);
    // Same case: one finding, not two.
    assert_eq!(s.scan(format!("key={secret}").as_bytes()).len(), 1);
}

#[test]
fn a_secret_split_across_consecutive_parts_is_found_in_their_concatenation() {
    let s = scanner(&[("stripe", TOKEN)]);
    let (a, rest) = TOKEN.split_at(5);
    let (b, c) = rest.split_at(9);
    let parts: [&[u8]; 4] = [b"GET /x", a.as_bytes(), b.as_bytes(), c.as_bytes()];
    for part in parts {
        assert!(s.scan(part).is_empty());
    }
    let found = s.scan_parts(&parts);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].offset, found[0].len), (6, TOKEN.len()));
    // Only in-order adjacency is caught.
    let shuffled: [&[u8]; 3] = [c.as_bytes(), a.as_bytes(), b.as_bytes()];
    assert!(s.scan_parts(&shuffled).is_empty());
    let apart: [&[u8]; 4] = [a.as_bytes(), b"x", b.as_bytes(), c.as_bytes()];
    assert!(s.scan_parts(&apart).is_empty());
    // Encoded forms across parts too.
    let hex = hex::encode(TOKEN);
    let (h1, h2) = hex.split_at(11);
    assert_eq!(s.scan_parts(&[h1.as_bytes(), h2.as_bytes()])[0].encoding, Encoding::HexLower);
}

/// A response body that reflects `TOKEN` in several forms, between ordinary
/// bytes.
fn reflecting_body() -> Vec<u8> {
    let mut body = b"{\"echo\": \"".to_vec();
    body.extend_from_slice(TOKEN.as_bytes());
    body.extend_from_slice(b"\", \"b64\": \"");
    body.extend_from_slice(STANDARD.encode(format!("user:{TOKEN}")).as_bytes());
    body.extend_from_slice(b"\", \"hex\": \"");
    body.extend_from_slice(hex(TOKEN.as_bytes()).as_bytes());
    body.extend_from_slice(b"\", \"tail\": \"nothing to see\"}");
    body
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn mask_keeps_the_length_and_leaves_nothing_to_find() {
    let s = scanner(&[("stripe", TOKEN)]);
    let original = reflecting_body();
    let mut masked = original.clone();
    let found = s.mask(&mut masked);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(masked.len(), original.len());
    assert!(s.scan(&masked).is_empty());
    assert!(!String::from_utf8_lossy(&masked).contains(TOKEN));
    // Only the matches changed.
    let changed = original.iter().zip(&masked).filter(|(a, b)| a != b).count();
    assert!(changed <= found.iter().map(|f| f.len).sum::<usize>());
    assert!(String::from_utf8_lossy(&masked).ends_with("\"tail\": \"nothing to see\"}"));
}

#[test]
fn a_stream_cut_anywhere_is_masked_as_the_whole_would_be() {
    let s = scanner(&[("stripe", TOKEN), ("other", "another-secret-value-123")]);
    let original = reflecting_body();
    let mut whole = original.clone();
    let expected = s.mask(&mut whole);
    // Every single cut point, and every chunk size from one byte up.
    let mut cuts: Vec<Vec<usize>> = (0..=original.len()).map(|at| vec![at]).collect();
    cuts.extend((1..=40).map(|size| (size..original.len()).step_by(size).collect()));
    for points in cuts {
        let mut stream = warrant_vault::scan::StreamRedactor::new();
        let mut out = Vec::new();
        let mut last = 0;
        for &at in &points {
            stream.push(&s, &original[last..at], &mut out);
            last = at;
        }
        stream.push(&s, &original[last..], &mut out);
        stream.finish(&s, &mut out);
        assert_eq!(out, whole, "cut at {points:?}");
        let found: Vec<(usize, usize)> = stream.found().iter().map(|f| (f.offset, f.len)).collect();
        let want: Vec<(usize, usize)> = expected.iter().map(|f| (f.offset, f.len)).collect();
        assert_eq!(found, want, "cut at {points:?}");
    }
}

#[test]
fn a_stream_releases_all_but_a_short_tail_as_it_goes() {
    let s = scanner(&[("stripe", TOKEN)]);
    let mut stream = warrant_vault::scan::StreamRedactor::new();
    let mut out = Vec::new();
    let chunk = vec![b'x'; 64 * 1024];
    stream.push(&s, &chunk, &mut out);
    // Held back: less than one longest form.
    assert!(out.len() >= chunk.len() - s.longest_form(), "{}", out.len());
    stream.finish(&s, &mut out);
    assert_eq!(out, chunk);
    // Nothing found, and the empty stream stays empty.
    assert!(stream.found().is_empty());
    let mut empty = warrant_vault::scan::StreamRedactor::new();
    let mut none = Vec::new();
    empty.finish(&s, &mut none);
    assert!(none.is_empty());
}
