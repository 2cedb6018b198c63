#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod corpus;

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

// Disguises: each is found by the skeleton pass (or, for UTF-16, by an exact
// form too), reported at its span in the haystack.

/// A GitHub-shaped token, assembled so the repository holds none.
fn github_token() -> String {
    ["gh", "p_", "1c0d4e9f2a7b", "857a3c6d1e0f", "9b2c4d6e8f0a1b3c"].concat()
}

fn found_disguised(s: &LeakScanner, haystack: &[u8]) -> Vec<(String, Encoding, usize, usize)> {
    s.scan(haystack).into_iter().map(|f| (f.name, f.encoding, f.offset, f.len)).collect()
}

/// Asserts that `disguised` (which must not contain the token verbatim) is
/// found as one normalised match covering all of it.
fn assert_found_whole(s: &LeakScanner, disguised: &str) {
    assert!(!disguised.contains(&github_token()));
    let haystack = format!("say: {disguised} ok");
    let found = found_disguised(s, haystack.as_bytes());
    assert_eq!(found.len(), 1, "{disguised:?}: {found:?}");
    let (name, _, offset, len) = &found[0];
    assert_eq!(name, "github");
    assert_eq!(&haystack[*offset..offset + len], disguised, "{found:?}");
}

#[test]
fn a_secret_with_separators_or_whitespace_between_its_characters_is_found() {
    let s = scanner(&[("github", &github_token())]);
    let token = github_token();
    let (head, tail) = token.split_at(16);
    assert_found_whole(&s, &format!("{head} {tail}"));
    let dashed: Vec<String> = token.chars().map(String::from).collect();
    assert_found_whole(&s, &dashed.join("-"));
    assert_found_whole(&s, &dashed.join(" . "));
    assert_eq!(found_disguised(&s, format!("{head} {tail}").as_bytes())[0].1, Encoding::Normalized);
}

#[test]
fn a_secret_with_zero_width_characters_is_found() {
    let s = scanner(&[("github", &github_token())]);
    for invisible in ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}'] {
        let disguised: String =
            github_token().chars().flat_map(|c| [c, invisible]).collect::<String>();
        let disguised = disguised.trim_end_matches(invisible).to_owned();
        assert_found_whole(&s, &disguised);
    }
}

#[test]
fn a_secret_with_a_line_break_in_it_is_found() {
    let s = scanner(&[("github", &github_token())]);
    let token = github_token();
    let (head, tail) = token.split_at(20);
    for newline in ["\n", "\r\n", "\\n"] {
        assert_found_whole(&s, &format!("{head}{newline}{tail}"));
    }
}

#[test]
fn a_secret_in_fullwidth_or_other_compatibility_forms_is_found() {
    let s = scanner(&[("github", &github_token())]);
    let fullwidth: String =
        github_token().chars().map(|c| char::from_u32(c as u32 - 0x21 + 0xff01).unwrap()).collect();
    assert_found_whole(&s, &fullwidth);
    // Half fullwidth, with a combining mark on each character.
    let mixed: String = github_token()
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let c = if i % 2 == 0 { c } else { char::from_u32(c as u32 - 0x21 + 0xff01).unwrap() };
            [c, '\u{301}']
        })
        .collect();
    assert_found_whole(&s, mixed.trim_end_matches('\u{301}'));
}

#[test]
fn a_secret_written_as_html_character_references_is_found() {
    let s = scanner(&[("github", &github_token())]);
    let token = github_token();
    let decimal: String = token.bytes().map(|b| format!("&#{b};")).collect();
    assert_found_whole(&s, &decimal);
    let hex: String = token.bytes().map(|b| format!("&#x{b:x};")).collect();
    assert_found_whole(&s, &hex);
    // Mixed, with a named reference for `_` and one without its `;`.
    let mixed = format!("&#103;&#x68;p&lowbar;&#49 {}", &token[5..]);
    assert_found_whole(&s, &mixed);
    let named = format!("&gopf;&hfr;p&UnderBar;{}", &token[4..]);
    assert_found_whole(&s, &named);
}

#[test]
fn a_secret_in_another_case_is_found() {
    let s = scanner(&[("github", &github_token())]);
    assert_found_whole(&s, &github_token().to_uppercase());
}

#[test]
fn a_secret_in_utf16_is_found_in_either_byte_order_with_or_without_a_mark() {
    let s = scanner(&[("github", &github_token())]);
    let text = format!("{{\"token\": \"{}\"}}", github_token());
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for (body, mark) in [(le, [0xff, 0xfe]), (be, [0xfe, 0xff])] {
        for with_mark in [false, true] {
            let mut bytes = if with_mark { mark.to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&body);
            let found = s.scan_exact(&bytes);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].encoding, Encoding::Utf16);
            assert_eq!(found[0].len, 2 * github_token().len());
        }
        // Separators between UTF-16 characters too.
        let spaced: Vec<u8> = github_token()
            .chars()
            .flat_map(|c| [c, ' '])
            .collect::<String>()
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(s.scan(&spaced).len(), 1);
    }
}

#[test]
fn line_wrapped_base64_is_found_at_every_alignment() {
    let s = scanner(&[("github", &github_token())]);
    for prefix_len in 0..3 {
        for width in [64, 76] {
            for newline in ["\n", "\r\n"] {
                let mut data = "x".repeat(prefix_len + 40).into_bytes();
                data.extend_from_slice(github_token().as_bytes());
                data.extend_from_slice(&[b'y'; 50]);
                let encoded = STANDARD.encode(&data);
                let lines: Vec<&str> = encoded
                    .as_bytes()
                    .chunks(width)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                let wrapped = lines.join(newline);
                let found = s.scan(wrapped.as_bytes());
                assert_eq!(found.len(), 1, "prefix {prefix_len}, width {width}: {found:?}");
            }
        }
    }
}

#[test]
fn hex_grouped_or_wrapped_is_found() {
    let s = scanner(&[("github", &github_token())]);
    let hex = hex::encode(github_token());
    let grouped: Vec<String> =
        hex.as_bytes().chunks(4).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    assert_eq!(s.scan(grouped.join(" ").as_bytes()).len(), 1);
    assert_eq!(s.scan(grouped.join(":\n").as_bytes()).len(), 1);
}

#[test]
fn redaction_and_masking_cover_a_disguised_secret() {
    let s = scanner(&[("github", &github_token())]);
    let disguised: String = github_token().chars().flat_map(|c| [c, '\u{200b}']).collect();
    let text = format!("before {disguised}after");
    let redacted = s.redact(&text);
    assert!(redacted.starts_with("before [REDACTED:github]"), "{redacted}");
    assert!(s.scan(redacted.as_bytes()).is_empty());
    let mut bytes = text.clone().into_bytes();
    let found = s.mask(&mut bytes);
    assert_eq!(found.len(), 1);
    assert_eq!(bytes.len(), text.len());
    assert!(s.scan(&bytes).is_empty());
}

#[test]
fn a_short_secret_is_not_matched_in_disguise_on_ordinary_text() {
    // Skeleton of 15 characters: exact forms only.
    let short = "hunter2-Hunter2-x";
    let s = scanner(&[("pw", short)]);
    assert_eq!(s.scan(format!("pw={short}").as_bytes()).len(), 1);
    assert!(s.scan(b"hunter2 hunter2 x").is_empty());
    assert!(s.scan(b"HUNTER2HUNTER2X").is_empty());
    // One of 16 is.
    let s = scanner(&[("pw", "hunter2-Hunter2-xy")]);
    assert_eq!(s.scan(b"hunter2 hunter2 x y").len(), 1);
}

#[test]
fn vault_secrets_are_not_found_in_disguise_in_ordinary_tool_output() {
    // Secrets of the usual shapes; the corpus holds none of them.
    let mut rng = corpus::Rng::new(17);
    let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut values: Vec<String> = Vec::new();
    for _ in 0..200 {
        values.push(["gh", "p_", &rng.chars(alnum, 36)].concat());
        values.push(rng.chars("0123456789abcdef", 32));
        values.push(["sk", "-live-", &rng.chars(alnum, 24)].concat());
        values.push(rng.chars(alnum, 16));
    }
    values.push("purple-monkey-dishwasher-lamp".to_owned());
    values.push("Summer2024Vacation!".to_owned());
    let names: Vec<String> = (0..values.len()).map(|i| format!("cred{i}")).collect();
    let pairs: Vec<(&str, &str)> =
        names.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
    let s = scanner(&pairs);
    let mut bytes = 0;
    let mut false_positives = Vec::new();
    for (name, chunk) in corpus::corpus() {
        bytes += chunk.len();
        for f in s.scan(&chunk) {
            false_positives.push(format!("{name}: {} ({:?}) at {}", f.name, f.encoding, f.offset));
        }
        let parts: Vec<&[u8]> = chunk.split(|b| *b == b'\n').collect();
        let fragments = s.fragments(&parts);
        let mut exposure = warrant_vault::fragments::Exposure::default();
        for leak in exposure.admit(&s, &fragments) {
            false_positives.push(format!("{name}: fragments of {}", leak.name));
        }
    }
    println!("leak scanner corpus: {bytes} bytes, {} false positives", false_positives.len());
    assert!(bytes >= 2_000_000);
    assert!(false_positives.is_empty(), "{}", false_positives.join("\n"));
}

// Disguises a red team tried on a vault secret after the skeleton pass
// landed: invisible characters that spell ASCII, rotations, C escapes and
// lists of byte values.

/// The red team's secret.
const PLAIN: &str = "Zx9Qw7Er5Ty3Ui1Op0As";

/// Asserts that `disguised` (which must not contain [`PLAIN`]) is found, in
/// `before {disguised} after`, as one match of `plain` that covers exactly
/// `covered` (a substring of `disguised`).
fn assert_found_covering(disguised: &str, covered: &str) {
    assert!(!disguised.contains(PLAIN));
    let s = scanner(&[("plain", PLAIN)]);
    let haystack = format!("before {disguised} after");
    let found = found_disguised(&s, haystack.as_bytes());
    assert_eq!(found.len(), 1, "{disguised:?}: {found:?}");
    let (name, _, offset, len) = &found[0];
    assert_eq!(name, "plain");
    assert_eq!(&haystack[*offset..offset + len], covered, "{disguised:?}");
}

fn assert_found(disguised: &str) {
    assert_found_covering(disguised, disguised);
}

/// Asserts that `disguised` alone is one of the exact forms, so the
/// streaming mask finds it too.
fn assert_found_exactly(disguised: &str) {
    let s = scanner(&[("plain", PLAIN)]);
    let found = s.scan_exact(disguised.as_bytes());
    assert_eq!(found.len(), 1, "{disguised:?}: {found:?}");
    assert_eq!((found[0].offset, found[0].len), (0, disguised.len()), "{disguised:?}");
}

/// Each character as the one `shift` places along its alphabet: letters by
/// `letters` (case kept), digits by `digits`.
fn caesar(text: &str, letters: u8, digits: u8) -> String {
    text.bytes()
        .map(|b| {
            let rotate = |base: u8, size: u8, by: u8| char::from(base + (b - base + by) % size);
            match b {
                b'a'..=b'z' => rotate(b'a', 26, letters),
                b'A'..=b'Z' => rotate(b'A', 26, letters),
                b'0'..=b'9' => rotate(b'0', 10, digits),
                _ => char::from(b),
            }
        })
        .collect()
}

fn rot47(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'!'..=b'~' => char::from(b'!' + (b - b'!' + 47) % 94),
            _ => char::from(b),
        })
        .collect()
}

fn each_byte(text: &str, write: impl Fn(u8) -> String, separator: &str) -> String {
    text.bytes().map(write).collect::<Vec<_>>().join(separator)
}

#[test]
fn a_secret_spelled_in_unicode_tag_characters_is_found() {
    // Tag characters U+E0020..U+E007E are ASCII moved up: invisible, and
    // read back by anything that subtracts U+E0000.
    let tags: String = PLAIN.chars().map(|c| char::from_u32(0xe0000 + c as u32).unwrap()).collect();
    assert_found(&tags);
    // Behind an emoji, between a language tag and a cancel tag.
    let hidden = format!("\u{1f642}\u{e0001}{tags}\u{e007f}");
    assert_found_covering(&hidden, &tags);
}

#[test]
fn a_secret_spelled_in_variation_selectors_is_found() {
    // One selector a byte, as in "smuggling data through an emoji": bytes
    // below 16 are U+FE00.., the rest U+E0100...
    let selector = |b: u8| {
        let code = if b < 16 { 0xfe00 + u32::from(b) } else { 0xe0100 + u32::from(b) - 16 };
        char::from_u32(code).unwrap()
    };
    let hidden: String = PLAIN.bytes().map(selector).collect();
    assert_found_covering(&format!("\u{1f600}{hidden}"), &hidden);
}

#[test]
fn a_secret_in_rot13_or_rot47_is_found() {
    let rot13 = caesar(PLAIN, 13, 0);
    assert_found(&rot13);
    // rot13 with separators, and rot18 (rot13 and digits rotated by 5).
    assert_found(&each_byte(&rot13, |b| char::from(b).to_string(), " "));
    assert_found(&caesar(PLAIN, 13, 5));
    // rot47 turns about half of the characters into punctuation: found when
    // what is left is long enough, as for a GitHub token.
    let s = scanner(&[("github", &github_token())]);
    let rot47 = rot47(&github_token());
    let found = found_disguised(&s, format!("x {rot47} y").as_bytes());
    assert_eq!(found.len(), 1, "{rot47}: {found:?}");
}

#[test]
fn a_secret_shifted_along_the_alphabet_by_any_amount_is_found() {
    for shift in 1..26 {
        assert_found(&caesar(PLAIN, shift, 0).to_uppercase());
    }
}

#[test]
fn a_secret_reversed_or_mirrored_along_the_alphabet_is_found() {
    assert_found(&PLAIN.chars().rev().collect::<String>());
    let atbash: String = PLAIN
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' => char::from(b'z' - (b - b'a')),
            b'A'..=b'Z' => char::from(b'Z' - (b - b'A')),
            _ => char::from(b),
        })
        .collect();
    assert_found(&atbash);
}

#[test]
fn a_secret_written_as_c_escapes_of_every_byte_is_found() {
    let lower = each_byte(PLAIN, |b| format!("\\x{b:02x}"), "");
    let upper = each_byte(PLAIN, |b| format!("\\x{b:02X}"), "");
    let octal = each_byte(PLAIN, |b| format!("\\{b:03o}"), "");
    let octal0 = each_byte(PLAIN, |b| format!("\\0{b:03o}"), "");
    for escaped in [&lower, &upper, &octal, &octal0] {
        assert_found_exactly(escaped);
        assert_found(escaped);
    }
    // As a shell would be given them: quoted, in mixed case, in a JSON string.
    let mixed: String = lower
        .split_inclusive(|c: char| c.is_ascii_hexdigit())
        .enumerate()
        .map(|(i, piece)| if i % 3 == 0 { piece.to_uppercase() } else { piece.to_owned() })
        .collect();
    assert!(mixed != lower && mixed != upper, "{mixed}");
    assert_found_covering(&format!("printf '{mixed}'"), &mixed[1..]);
    let json = serde_json::to_string(&lower).unwrap();
    assert_found_covering(&json, &json[3..json.len() - 1]);
    // Perl's and Rust's braces.
    let perl = each_byte(PLAIN, |b| format!("\\x{{{b:x}}}"), "");
    assert_found_covering(&perl, &perl[1..perl.len() - 1]);
    let rust = each_byte(PLAIN, |b| format!("\\u{{{b:x}}}"), "");
    assert_found_covering(&rust, &rust[1..rust.len() - 1]);
}

#[test]
fn a_secret_as_a_list_of_byte_values_is_found_whatever_the_separators() {
    let decimal = each_byte(PLAIN, |b| b.to_string(), ",");
    assert_found(&decimal);
    assert_found(&each_byte(PLAIN, |b| b.to_string(), " "));
    assert_found(&each_byte(PLAIN, |b| b.to_string(), ";\n  "));
    let js = format!("String.fromCharCode({decimal})");
    assert_found_covering(&js, &decimal);
    let python = each_byte(PLAIN, |b| format!("chr({b})"), "+");
    assert_found_covering(&python, &python[..python.len() - 1]);
    let c_array = each_byte(PLAIN, |b| format!("0x{b:02X}"), ", ");
    assert_found(&c_array);
    assert_found(&each_byte(PLAIN, |b| format!("{b:03o}"), " "));
    assert_found(&each_byte(PLAIN, |b| format!("{b:08b}"), " "));
    assert_found(&each_byte(PLAIN, |b| format!("{b:08b}"), ""));
    assert_found(&each_byte(PLAIN, |b| format!("0b{b:b}"), ", "));
}

#[test]
fn lists_of_numbers_bit_strings_and_escapes_in_ordinary_output_are_not_taken_for_secrets() {
    // The disguises of lists of byte values are long runs of digits: dumps
    // of bytes (random and of ordinary text) in every radix and with every
    // prefix the scanner knows must not match 800 secrets.
    let mut rng = corpus::Rng::new(29);
    let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let values: Vec<String> = (0..800).map(|_| rng.chars(alnum, 20)).collect();
    let names: Vec<String> = (0..values.len()).map(|i| format!("cred{i}")).collect();
    let pairs: Vec<(&str, &str)> =
        names.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
    let s = scanner(&pairs);
    let prose = b"The quick brown fox jumps over the lazy dog; 0123456789 times, again.\n";
    let mut dumps = Vec::new();
    for round in 0..40 {
        let random = rng.bytes(2048);
        let data: &[u8] = if round % 2 == 0 { &random } else { prose };
        let writers: [fn(u8) -> String; 8] = [
            |b| b.to_string(),
            |b| format!("chr({b})"),
            |b| format!("0x{b:02x}"),
            |b| format!("{b:03o}"),
            |b| format!("{b:08b}"),
            |b| format!("0b{b:b}"),
            |b| format!("\\x{b:02X}"),
            |b| format!("\\u{{{b:x}}}"),
        ];
        for write in writers {
            let list: Vec<String> = data.iter().map(|&b| write(b)).collect();
            dumps.push(list.join(if round % 3 == 0 { ", " } else { "" }));
        }
    }
    let bytes: usize = dumps.iter().map(String::len).sum();
    let found: Vec<_> = dumps.iter().flat_map(|d| s.scan(d.as_bytes())).collect();
    assert!(bytes > 2_000_000, "{bytes}");
    assert!(found.is_empty(), "{found:?}");
}
