//! Issuing and verifying agent credentials, including a hostile holder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use biscuit_auth::{BlockBuilder, UnverifiedBiscuit};
use std::time::Duration;
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_identity::{
    AgentToken, AuthError, Claims, IdentityError, IssueRequest, RootKey, TrustDomain, Verifier,
    issue,
};

const T: UnixMillis = UnixMillis(1_800_000_000_000);
const TTL: Duration = Duration::from_secs(600);

fn domain() -> TrustDomain {
    TrustDomain::parse("warrant.local").unwrap()
}

fn request<'a>(domain: &'a TrustDomain, task: &str) -> IssueRequest<'a> {
    IssueRequest {
        trust_domain: domain,
        name: AgentName::parse("researcher").unwrap(),
        task: task.to_owned(),
        spawned_by: "operator:alice".to_owned(),
        ttl: TTL,
        now: T,
    }
}

fn issued(root: &RootKey) -> (Claims, AgentToken) {
    issue(root, request(&domain(), "summarise the inbox")).unwrap()
}

/// The token with one block appended by its holder (no key needed).
fn attenuated(token: &AgentToken, block: &str) -> String {
    let unverified = UnverifiedBiscuit::from_base64(token.expose_secret()).unwrap();
    let block = BlockBuilder::new().code(block).unwrap();
    unverified.append(block).unwrap().to_base64().unwrap()
}

#[test]
fn issued_token_verifies_to_the_same_claims_cached_or_not() {
    let root = RootKey::generate();
    let (claims, token) = issued(&root);
    let verifier = Verifier::new(root.public_key());
    assert_eq!(verifier.verify(token.expose_secret(), T).unwrap(), claims);
    assert_eq!(verifier.cached(), 1);
    let later = UnixMillis(T.0 + 1000);
    assert_eq!(verifier.verify(token.expose_secret(), later).unwrap(), claims);
    assert_eq!(verifier.cached(), 1);
}

#[test]
fn claims_name_the_agent_in_spiffe_form() {
    let root = RootKey::generate();
    let (claims, _) = issued(&root);
    assert_eq!(
        claims.spiffe_id,
        format!("spiffe://warrant.local/agent/researcher/{}", claims.agent_id)
    );
    assert_eq!(claims.name.as_str(), "researcher");
    assert_eq!(claims.spawned_by, "operator:alice");
    assert_eq!(claims.task, "summarise the inbox");
    assert_eq!(claims.depth, 0);
    assert_eq!(claims.issued_at, T);
    assert_eq!(claims.expires_at, UnixMillis(T.0 + 600_000));
    let (other, _) = issued(&root);
    assert_ne!(other.agent_id, claims.agent_id, "every instance gets its own id");
}

#[test]
fn token_signed_by_another_root_key_is_a_bad_signature() {
    let (_, token) = issued(&RootKey::generate());
    let verifier = Verifier::new(RootKey::generate().public_key());
    assert_eq!(verifier.verify(token.expose_secret(), T), Err(AuthError::BadSignature));
    assert_eq!(verifier.cached(), 0);
}

#[test]
fn any_single_byte_change_is_refused_or_changes_nothing() {
    let root = RootKey::generate();
    let (claims, token) = issued(&root);
    let verifier = Verifier::new(root.public_key());
    let raw = UnverifiedBiscuit::from_base64(token.expose_secret()).unwrap().to_vec().unwrap();
    let mut refused = 0;
    for i in 0..raw.len() {
        let mut bytes = raw.clone();
        bytes[i] ^= 0x10;
        match verifier.verify(&base64url(&bytes), T) {
            Err(AuthError::Malformed | AuthError::BadSignature) => refused += 1,
            // Biscuit's protobuf wrapper is not canonical: a few bytes outside
            // the signed payload (a field tag of the next public key) can
            // change without changing the token's meaning.
            Ok(same) if same == claims => {}
            other => panic!("byte {i} of {}: {other:?}", raw.len()),
        }
    }
    assert!(refused + 4 >= raw.len(), "only {refused} of {} changes refused", raw.len());
    // Only the accepted (equivalent) encodings were cached.
    assert_eq!(verifier.cached(), raw.len() - refused);
}

#[test]
fn a_changed_byte_in_the_signed_claims_is_a_bad_signature() {
    let root = RootKey::generate();
    let (_, token) = issued(&root);
    let verifier = Verifier::new(root.public_key());
    let mut raw = UnverifiedBiscuit::from_base64(token.expose_secret()).unwrap().to_vec().unwrap();
    let at = raw.windows(9).position(|w| w == b"summarise").unwrap();
    raw[at] = b'S';
    assert_eq!(verifier.verify(&base64url(&raw), T), Err(AuthError::BadSignature));
}

/// URL-safe base64 with padding, as Biscuit writes tokens.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn garbage_empty_and_huge_strings_are_malformed() {
    let root = RootKey::generate();
    let (_, token) = issued(&root);
    let verifier = Verifier::new(root.public_key());
    let huge = "A".repeat(10 * 1024 * 1024);
    let padded = format!("{} ", token.expose_secret());
    let truncated = &token.expose_secret()[..token.expose_secret().len() / 2];
    for garbage in [
        "",
        " ",
        "abc",
        "!!!!",
        "Zm9vYmFy",
        "\0",
        "é∂ƒ",
        "Bearer x",
        huge.as_str(),
        padded.as_str(),
        truncated,
    ] {
        let result = verifier.verify(garbage, T);
        assert_eq!(result, Err(AuthError::Malformed), "{:?}", garbage.get(..20));
    }
}

#[test]
fn expired_token_is_refused_even_after_it_was_cached() {
    let root = RootKey::generate();
    let (claims, token) = issued(&root);
    let verifier = Verifier::new(root.public_key());
    let expired = Err(AuthError::Expired { at: claims.expires_at });
    let last_valid = UnixMillis(T.0 + 600_000 - 1);

    // Uncached: the token's own Datalog check refuses it.
    let fresh = Verifier::new(root.public_key());
    assert_eq!(fresh.verify(token.expose_secret(), UnixMillis(T.0 + 600_001)), expired);
    assert_eq!(fresh.cached(), 0);

    // Cached by a success, then refused on expiry.
    assert_eq!(verifier.verify(token.expose_secret(), T).unwrap(), claims);
    assert_eq!(verifier.verify(token.expose_secret(), last_valid).unwrap(), claims);
    assert_eq!(verifier.verify(token.expose_secret(), claims.expires_at), expired);
    assert_eq!(verifier.verify(token.expose_secret(), UnixMillis(T.0 + 600_001)), expired);
}

#[test]
fn appended_block_cannot_change_the_claims() {
    let root = RootKey::generate();
    let (claims, token) = issued(&root);
    let other = AgentId::random();
    let hostile = attenuated(
        &token,
        &format!(
            r#"agent_id("{other}"); agent_name("admin"); depth(0); depth(7);
               spawned_by("operator:root"); task("anything");
               expires_at(9000000000000); issued_at(0); credential("warrant-agent-v1");
               agent_id("{other}") <- time_ms($t);"#
        ),
    );
    let verifier = Verifier::new(root.public_key());
    assert_eq!(verifier.verify(&hostile, T).unwrap(), claims);
    assert_eq!(verifier.verify(&hostile, T).unwrap(), claims);
}

#[test]
fn appended_block_cannot_extend_the_expiry() {
    let root = RootKey::generate();
    let (claims, token) = issued(&root);
    let hostile = attenuated(&token, "time_ms(0); expires_at(9000000000000); check if true;");
    let verifier = Verifier::new(root.public_key());
    assert_eq!(verifier.verify(&hostile, T).unwrap(), claims);
    let after = UnixMillis(T.0 + 600_001);
    assert_eq!(verifier.verify(&hostile, after), Err(AuthError::Expired { at: claims.expires_at }));
}

#[test]
fn appended_block_can_narrow_the_lifetime_and_is_never_served_from_cache() {
    let root = RootKey::generate();
    let (claims, token) = issued(&root);
    let narrowed = attenuated(&token, &format!("check if time_ms($t), $t < {};", T.0 + 1000));
    let verifier = Verifier::new(root.public_key());
    assert_eq!(verifier.verify(&narrowed, UnixMillis(T.0 + 500)).unwrap(), claims);
    assert_eq!(verifier.cached(), 0);
    assert_eq!(verifier.verify(&narrowed, UnixMillis(T.0 + 1500)), Err(AuthError::Rejected));
    // The unattenuated token is still good at that time.
    assert!(verifier.verify(token.expose_secret(), UnixMillis(T.0 + 1500)).is_ok());
}

#[test]
fn appended_block_that_explodes_is_stopped_by_run_limits() {
    let root = RootKey::generate();
    let (_, token) = issued(&root);
    let facts: String = (0..40).map(|i| format!("a({i}); ")).collect();
    let looping = attenuated(&token, &format!("{facts} p($x, $y, $z) <- a($x), a($y), a($z);"));
    let verifier = Verifier::new(root.public_key());
    assert_eq!(verifier.verify(&looping, T), Err(AuthError::Rejected));
}

#[test]
fn a_task_written_as_datalog_is_carried_verbatim() {
    let root = RootKey::generate();
    let task = r#"x"); agent_id("00000000-0000-0000-0000-000000000000"); check if false; //"#;
    let (claims, token) = issue(&root, request(&domain(), task)).unwrap();
    let verified = Verifier::new(root.public_key()).verify(token.expose_secret(), T).unwrap();
    assert_eq!(verified, claims);
    assert_eq!(verified.task, task);
}

#[test]
fn auth_errors_do_not_echo_the_token() {
    let root = RootKey::generate();
    let (_, token) = issued(&root);
    let secret = token.expose_secret();
    let verifier = Verifier::new(RootKey::generate().public_key());
    let err = verifier.verify(secret, T).unwrap_err().to_string();
    assert!(!err.contains(&secret[..16]), "{err}");
    let err = verifier.verify(&secret[..40], T).unwrap_err().to_string();
    assert!(!err.contains(&secret[..16]), "{err}");
}

#[test]
fn ttl_must_be_between_one_second_and_one_day() {
    let root = RootKey::generate();
    let domain = domain();
    let with_ttl = |ttl| issue(&root, IssueRequest { ttl, ..request(&domain, "t") });
    for bad in [
        Duration::ZERO,
        Duration::from_millis(999),
        Duration::from_secs(86_400) + Duration::from_millis(1),
    ] {
        let err = with_ttl(bad).err().unwrap();
        assert!(matches!(err, IdentityError::Ttl { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("1 s to 24 h"), "{err}");
    }
    for good in [Duration::from_secs(1), Duration::from_secs(86_400)] {
        let (claims, _) = with_ttl(good).unwrap();
        assert_eq!(claims.expires_at, T.plus(good));
    }
}

#[test]
fn task_and_spawner_are_bounded_and_printable_and_a_task_may_span_lines() {
    let root = RootKey::generate();
    let domain = domain();
    assert!(issue(&root, request(&domain, &"é".repeat(1024))).is_ok());
    assert!(issue(&root, request(&domain, "")).is_ok());
    let err = issue(&root, request(&domain, &"a".repeat(1025))).err().unwrap();
    assert!(matches!(err, IdentityError::TaskTooLong { chars: 1025, max: 1024 }), "{err}");
    assert!(issue(&root, request(&domain, "summarise:\r\n\t- notes\n- mail")).is_ok());
    for bad in ["esc\u{1b}[31m", "nul\0", "del\u{7f}", "bell\u{7}", "c1\u{9b}2J"] {
        let err = issue(&root, request(&domain, bad)).err().unwrap();
        assert!(matches!(err, IdentityError::TaskControlCharacter), "{bad:?}: {err}");
    }
    for bad in [String::new(), "a".repeat(257), "operator:\nroot".to_owned()] {
        let req = IssueRequest { spawned_by: bad.clone(), ..request(&domain, "t") };
        let err = issue(&root, req).err().unwrap();
        assert!(matches!(err, IdentityError::SpawnedBy { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn dot_segments_are_refused_as_agent_names() {
    let root = RootKey::generate();
    let domain = domain();
    for name in [".", ".."] {
        let req = IssueRequest { name: AgentName::parse(name).unwrap(), ..request(&domain, "t") };
        let err = issue(&root, req).err().unwrap();
        assert!(matches!(err, IdentityError::SpiffeSegment { .. }), "{name}: {err}");
    }
    let req = IssueRequest { name: AgentName::parse("a.b").unwrap(), ..request(&domain, "t") };
    assert!(issue(&root, req).is_ok());
}

#[test]
fn trust_domains_are_lowercase_dns_names() {
    for good in ["warrant.local", "a", "corp-1.example.com", "x1.y2"] {
        assert_eq!(TrustDomain::parse(good).unwrap().as_str(), good);
    }
    let long_label = format!("{}.local", "a".repeat(64));
    let long_name = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(63)].join(".");
    for bad in [
        "",
        "Warrant.local",
        "a..b",
        ".local",
        "local.",
        "-a.b",
        "a-.b",
        "a/b",
        "a b",
        "a_b",
        "spiffe://x",
        "münchen.de",
        long_label.as_str(),
        long_name.as_str(),
    ] {
        let err = TrustDomain::parse(bad).err().unwrap();
        assert!(matches!(err, IdentityError::TrustDomain { .. }), "{bad:?}: {err}");
    }
}
