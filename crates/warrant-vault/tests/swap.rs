#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use warrant_vault::scan::Encoding;
use warrant_vault::swap::{
    OutgoingRequest, Part, SwapEntry, SwapParts, SwapRefused, SwappedRequest, Swapper,
    ViolationKind,
};
use warrant_vault::{CredentialName, Placeholder, SecretValue, VaultError, placeholder_for};

/// Fake tokens made at test time, so the repository holds nothing that looks
/// like a live one.
fn github_token() -> String {
    ["gh", "p_", "Zq3Xw9Lm2Pk7Rt5Vb8Nc1Hd4Jf6Gs0Ay"].concat() + "Ab12"
}

/// A secret with characters that URL-, form- and JSON-encoding change.
fn odd_secret() -> String {
    ["wJal/rXUt+nF", "EMI/K7MD ENG+b\"PxR~fi*CY"].concat()
}

struct Fixture {
    swapper: Swapper,
    github: Placeholder,
    odd: Placeholder,
    other: Placeholder,
}

fn entry(name: &str, secret: &str, hosts: &[&str], parts: SwapParts) -> (SwapEntry, Placeholder) {
    let value = SecretValue::from_string(secret.to_owned());
    let placeholder = placeholder_for(&value).unwrap();
    let entry = SwapEntry {
        name: CredentialName::new(name).unwrap(),
        placeholder: placeholder.clone(),
        secret: value,
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        parts,
    };
    (entry, placeholder)
}

fn fixture() -> Fixture {
    let (g, github) = entry("github", &github_token(), &["api.github.com"], SwapParts::ALL);
    let (o, odd) = entry("odd", &odd_secret(), &["*.example.com"], SwapParts::ALL);
    let (h, other) =
        entry("headers-only", "Hx7Kq2Lm9Np4Rs6Tv8Wy3Za5", &["api.github.com"], SwapParts::HEADERS);
    Fixture { swapper: Swapper::new(vec![g, o, h]).unwrap(), github, odd, other }
}

fn request<'a>(
    host: &'a str,
    target: &'a str,
    headers: &'a [(&'a str, &'a [u8])],
    body: &'a [u8],
) -> OutgoingRequest<'a> {
    OutgoingRequest { host, target: target.as_bytes(), headers, body }
}

fn assert_same_lengths(input: &OutgoingRequest<'_>, out: &SwappedRequest) {
    assert_eq!(out.expose_target().len(), input.target.len());
    assert_eq!(out.expose_body().len(), input.body.len());
    for (i, (_, value)) in input.headers.iter().enumerate() {
        assert_eq!(out.expose_header_value(i).unwrap().len(), value.len());
    }
}

fn refused(result: Result<SwappedRequest, SwapRefused>) -> SwapRefused {
    match result {
        Ok(out) => panic!("expected a refusal, got {out:?}"),
        Err(refused) => refused,
    }
}

#[test]
fn bearer_header_to_a_bound_host_gets_the_secret() {
    let f = fixture();
    let value = format!("Bearer {}", f.github);
    let headers: [(&str, &[u8]); 2] = [("Authorization", value.as_bytes()), ("Accept", b"*/*")];
    let req = request("API.GitHub.com", "/user", &headers, b"");
    let out = f.swapper.swap_request(&req).unwrap();
    assert_eq!(
        out.expose_header_value(0).unwrap(),
        format!("Bearer {}", github_token()).as_bytes()
    );
    assert_eq!(out.expose_header_value(1).unwrap(), b"*/*");
    assert_eq!(out.swapped().len(), 1);
    assert_eq!(out.swapped()[0].credential.as_str(), "github");
    assert_eq!(out.swapped()[0].at.part, Part::HeaderValue(0));
    assert_eq!(out.swapped()[0].at.offset, 7);
    assert!(out.unswapped().is_empty());
    assert_same_lengths(&req, &out);
}

#[test]
fn basic_credentials_are_decoded_swapped_and_re_encoded_at_the_same_length() {
    let f = fixture();
    let value = format!("Basic {}", STANDARD.encode(format!("x-access-token:{}", f.github)));
    let headers: [(&str, &[u8]); 1] = [("authorization", value.as_bytes())];
    let req = request("api.github.com", "/", &headers, b"");
    let out = f.swapper.swap_request(&req).unwrap();
    let expected =
        format!("Basic {}", STANDARD.encode(format!("x-access-token:{}", github_token())));
    assert_eq!(out.expose_header_value(0).unwrap(), expected.as_bytes());
    assert_eq!(out.swapped()[0].at.encoding, Encoding::Base64);
    assert!(out.unswapped().is_empty());
    assert_same_lengths(&req, &out);
}

#[test]
fn url_query_raw_and_percent_encoded_and_json_body_are_swapped() {
    let f = fixture();
    let odd = f.odd.as_str();
    let percent: String = odd
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let form = percent.replace("%20", "+");
    let target = format!("/v1/x?raw={odd}&enc={percent}&form={form}");
    let body = serde_json::json!({ "token": odd, "n": 1 }).to_string();
    assert!(body.contains("\\\""), "the JSON form differs from the raw one: {body}");
    let req = request("deep.api.example.com", &target, &[], body.as_bytes());
    let out = f.swapper.swap_request(&req).unwrap();

    let secret = odd_secret();
    let secret_percent: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let secret_form = secret_percent.replace("%20", "+");
    let expected_target = format!("/v1/x?raw={secret}&enc={secret_percent}&form={secret_form}");
    assert_eq!(out.expose_target(), expected_target.as_bytes());
    let expected_body = serde_json::json!({ "token": secret, "n": 1 }).to_string();
    assert_eq!(out.expose_body(), expected_body.as_bytes());
    let encodings: Vec<Encoding> = out.swapped().iter().map(|o| o.at.encoding).collect();
    assert_eq!(
        encodings,
        [Encoding::Raw, Encoding::UrlEncoded, Encoding::UrlEncoded, Encoding::JsonEscaped]
    );
    assert_same_lengths(&req, &out);
}

#[test]
fn the_placeholder_of_an_unbound_credential_is_a_violation_with_its_place() {
    let f = fixture();
    let body = format!("{{\"note\": \"{}\"}}", f.github);
    let req = request("evil.example.net", "/upload", &[], body.as_bytes());
    let refused = refused(f.swapper.swap_request(&req));
    assert_eq!(refused.violations.len(), 1);
    let v = &refused.violations[0];
    assert_eq!(v.kind, ViolationKind::UnboundPlaceholder);
    assert_eq!(v.credential.as_str(), "github");
    assert_eq!((v.at.part, v.at.offset, v.at.len), (Part::Body, 10, f.github.len()));
}

#[test]
fn an_encoded_placeholder_to_an_unbound_host_is_a_violation_too() {
    let f = fixture();
    let target = format!("/?d={}", STANDARD.encode(format!("leak:{}", f.odd)));
    let hex = hex::encode(f.github.as_str());
    let headers: [(&str, &[u8]); 1] = [("X-Data", hex.as_bytes())];
    // The apex is not covered by `*.example.com`.
    let req = request("example.com", &target, &headers, b"");
    let refused = refused(f.swapper.swap_request(&req));
    let found: Vec<(&str, Part, Encoding)> = refused
        .violations
        .iter()
        .map(|v| (v.credential.as_str(), v.at.part, v.at.encoding))
        .collect();
    assert_eq!(
        found,
        [
            ("odd", Part::Target, Encoding::Base64),
            ("github", Part::HeaderValue(0), Encoding::HexLower)
        ]
    );
}

#[test]
fn a_real_secret_is_a_violation_even_to_a_bound_host() {
    let f = fixture();
    let value = format!("token {}", github_token());
    let headers: [(&str, &[u8]); 1] = [("Authorization", value.as_bytes())];
    let req = request("api.github.com", "/", &headers, b"");
    let refused = refused(f.swapper.swap_request(&req));
    assert_eq!(refused.violations.len(), 1);
    assert_eq!(refused.violations[0].kind, ViolationKind::RealSecret);
    assert_eq!(refused.violations[0].at.part, Part::HeaderValue(0));
    assert_eq!(refused.violations[0].at.offset, 6);
}

#[test]
fn a_real_secret_split_across_headers_or_hidden_in_the_host_is_found() {
    let f = fixture();
    let token = github_token();
    let (a, b) = token.split_at(15);
    let headers: [(&str, &[u8]); 2] = [("X-A", a.as_bytes()), ("X-B", b.as_bytes())];
    let split = refused(f.swapper.swap_request(&request("api.github.com", "/", &headers, b"")));
    assert_eq!(split.violations[0].kind, ViolationKind::RealSecret);
    assert_eq!(split.violations[0].at.part, Part::HeaderValue(0));

    let host = format!("{token}.exfil.example.net");
    let dns = refused(f.swapper.swap_request(&request(&host, "/", &[], b"")));
    assert_eq!(dns.violations[0].at.part, Part::Host);
}

#[test]
fn a_placeholder_outside_its_allowed_parts_is_left_in_place_and_reported() {
    let f = fixture();
    let body = format!("comment={}", f.other);
    let value = format!("Bearer {}", f.other);
    let headers: [(&str, &[u8]); 1] = [("Authorization", value.as_bytes())];
    let req = request("api.github.com", "/issues", &headers, body.as_bytes());
    let out = f.swapper.swap_request(&req).unwrap();
    assert_eq!(out.expose_body(), body.as_bytes());
    assert_eq!(out.swapped().len(), 1);
    assert_eq!(out.swapped()[0].at.part, Part::HeaderValue(0));
    assert_eq!(out.unswapped().len(), 1);
    assert_eq!(out.unswapped()[0].at.part, Part::Body);
    assert_eq!(out.unswapped()[0].credential.as_str(), "headers-only");
}

#[test]
fn results_and_refusals_never_show_a_secret() {
    let f = fixture();
    let value = format!("Bearer {}", f.github);
    let headers: [(&str, &[u8]); 1] = [("Authorization", value.as_bytes())];
    let req = request("api.github.com", "/", &headers, b"");
    let out = f.swapper.swap_request(&req).unwrap();
    let bad_body = format!("{} {}", github_token(), f.odd);
    let bad =
        refused(f.swapper.swap_request(&request("x.example.org", "/", &[], bad_body.as_bytes())));
    assert_eq!(bad.violations.len(), 2);
    let shown = format!(
        "{out:?} {bad} {bad:?} {} {:?}",
        serde_json::to_string(&bad.violations).unwrap(),
        f.swapper
    );
    for secret in [github_token(), odd_secret()] {
        assert!(!shown.contains(&secret), "{shown}");
        assert!(!shown.contains(&secret[4..20]), "{shown}");
    }
    assert!(shown.contains("github") && shown.contains("odd"));
}

#[test]
fn swapping_never_changes_a_length() {
    let f = fixture();
    let forms = |p: &Placeholder| {
        let s = p.as_str();
        vec![
            s.to_owned(),
            hex::encode(s),
            hex::encode_upper(s),
            serde_json::to_string(s).unwrap(),
            s.bytes().map(|b| format!("%{b:02x}")).collect::<String>(),
            s.bytes().map(|b| format!("\\u{b:04X}")).collect::<String>(),
        ]
    };
    let mut pieces = forms(&f.github);
    pieces.extend(forms(&f.odd));
    pieces.extend(["plain text ".to_owned(), "{\"a\":".to_owned(), "é€".to_owned()]);
    let mut state = 7u64;
    let mut swapped_in_body = 0;
    for round in 0..200 {
        let mut body = String::new();
        for _ in 0..(round % 9) {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            body.push_str(&pieces[(state >> 33) as usize % pieces.len()]);
        }
        let value = format!("Basic {}", STANDARD.encode(format!("u:{}", f.github)));
        let headers: [(&str, &[u8]); 2] =
            [("Authorization", value.as_bytes()), ("X-Body", body.as_bytes())];
        let req = request("api.github.com", &body, &headers, body.as_bytes());
        // Only `github` is bound here; `odd` pieces make it a refusal.
        match f.swapper.swap_request(&req) {
            Ok(out) => {
                assert_same_lengths(&req, &out);
                assert!(out.unswapped().is_empty(), "{out:?}");
                if out.swapped().iter().any(|o| o.at.part == Part::Body) {
                    swapped_in_body += 1;
                }
            }
            Err(refused) => {
                assert!(refused.violations.iter().all(|v| v.credential.as_str() == "odd"))
            }
        }
    }
    assert!(swapped_in_body >= 20, "only {swapped_in_body} rounds swapped in the body");
}

#[test]
fn a_placeholder_not_shaped_like_its_secret_or_a_bad_host_is_refused() {
    let mismatched = || SwapEntry {
        name: CredentialName::new("a").unwrap(),
        placeholder: placeholder_for(&SecretValue::from_string(github_token())).unwrap(),
        secret: SecretValue::from_string(odd_secret()),
        hosts: vec![],
        parts: SwapParts::ALL,
    };
    let err = Swapper::new(vec![mismatched()]).unwrap_err();
    assert!(matches!(err, VaultError::SwapperBuild { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(&github_token()));

    for host in ["*", "a.*.com", "evil host", ""] {
        let (e, _) = entry("a", &github_token(), &[host], SwapParts::ALL);
        assert!(Swapper::new(vec![e]).is_err(), "{host}");
    }
    let (a, _) = entry("a", &github_token(), &[], SwapParts::ALL);
    let (b, _) = entry("a", &odd_secret(), &[], SwapParts::ALL);
    assert!(Swapper::new(vec![a, b]).is_err());
}
