//! Child agents: delegation narrows and never widens, whatever a holder
//! appends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use biscuit_auth::{Biscuit, BlockBuilder, KeyPair, UnverifiedBiscuit};
use std::collections::BTreeSet;
use std::time::Duration;
use warrant_core::{AgentName, UnixMillis};
use warrant_identity::{
    AgentToken, AuthError, Claims, DelegateRequest, IdentityError, IssueRequest, RootKey,
    TrustDomain, Verifier, delegate, issue,
};

const T: UnixMillis = UnixMillis(1_800_000_000_000);

fn domain() -> TrustDomain {
    TrustDomain::parse("warrant.local").unwrap()
}

fn tools(names: &[&str]) -> Option<BTreeSet<String>> {
    Some(names.iter().map(|s| (*s).to_owned()).collect())
}

fn root_agent(root: &RootKey, ttl: Duration) -> (Claims, AgentToken) {
    issue(
        root,
        IssueRequest {
            trust_domain: &domain(),
            name: AgentName::parse("lead").unwrap(),
            task: "ship the release".into(),
            spawned_by: "operator:alice".into(),
            ttl,
            now: T,
        },
    )
    .unwrap()
}

fn child_of(
    root: &RootKey,
    parent: &(Claims, AgentToken),
    name: &str,
    tool_list: Option<BTreeSet<String>>,
    ttl: Duration,
) -> Result<(Claims, AgentToken), IdentityError> {
    delegate(
        root,
        parent.1.expose_secret(),
        &parent.0,
        DelegateRequest {
            trust_domain: &domain(),
            name: AgentName::parse(name).unwrap(),
            task: format!("{name}'s part"),
            ttl,
            tools: tool_list,
            now: T,
            max_depth: 4,
        },
    )
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_child_names_its_whole_chain_and_verifies_from_the_cache() {
    let root = RootKey::generate();
    let lead = root_agent(&root, HOUR);
    let child = child_of(&root, &lead, "tester", tools(&["fs__read", "fs__list"]), HOUR).unwrap();
    let verifier = Verifier::new(root.public_key());

    let claims = verifier.verify(child.1.expose_secret(), T).unwrap();
    assert_eq!(claims, child.0);
    assert_eq!(claims.depth, 1);
    assert_eq!(claims.parent, Some(lead.0.agent_id));
    assert_eq!(claims.spawned_by, lead.0.spiffe_id);
    assert_eq!(claims.ancestors.len(), 1);
    assert_eq!(claims.ancestors[0].agent_id, lead.0.agent_id);
    assert_eq!(claims.tools, tools(&["fs__list", "fs__read"]));
    assert_eq!(
        claims.custody(),
        vec!["operator:alice".to_owned(), lead.0.spiffe_id.clone(), claims.spiffe_id.clone()]
    );
    let ids: Vec<_> = claims.chain_ids().copied().collect();
    assert_eq!(ids, vec![lead.0.agent_id, claims.agent_id]);
    // Delegation blocks are the gateway's own: cacheable.
    assert_eq!(verifier.cached(), 1);
    assert_eq!(verifier.verify(child.1.expose_secret(), T).unwrap(), claims);
    // The parent's token is untouched by its child's existence.
    assert_eq!(verifier.verify(lead.1.expose_secret(), T).unwrap(), lead.0);
}

#[test]
fn grandchildren_narrow_tools_and_lifetime_along_the_chain() {
    let root = RootKey::generate();
    let lead = root_agent(&root, Duration::from_secs(600));
    // Asks for longer than its parent has: cut to the parent's expiry.
    let child = child_of(&root, &lead, "tester", None, HOUR).unwrap();
    assert_eq!(child.0.expires_at, lead.0.expires_at);
    assert_eq!(child.0.tools, None, "no list: policy alone decides, as for the parent");
    let grandchild = child_of(&root, &child, "reader", tools(&["fs__read"]), HOUR).unwrap();
    let great = child_of(&root, &grandchild, "leaf", tools(&["fs__read"]), HOUR).unwrap();

    let verifier = Verifier::new(root.public_key());
    let claims = verifier.verify(great.1.expose_secret(), T).unwrap();
    assert_eq!(claims.depth, 3);
    assert_eq!(claims.tools, tools(&["fs__read"]));
    let names: Vec<_> = claims.ancestors.iter().map(|a| a.name.as_str().to_owned()).collect();
    assert_eq!(names, ["lead", "tester", "reader"]);
    assert_eq!(claims.custody().len(), 5);
    assert!(claims.expires_at <= lead.0.expires_at);
    // And it dies with the root's lifetime.
    assert_eq!(
        verifier.verify(great.1.expose_secret(), lead.0.expires_at),
        Err(AuthError::Expired { at: claims.expires_at })
    );
}

#[test]
fn a_child_cannot_be_given_a_tool_its_parent_lacks() {
    let root = RootKey::generate();
    let lead = root_agent(&root, HOUR);
    let child = child_of(&root, &lead, "tester", tools(&["fs__read"]), HOUR).unwrap();
    let err =
        child_of(&root, &child, "wider", tools(&["fs__read", "shell__exec"]), HOUR).err().unwrap();
    assert!(
        matches!(&err, IdentityError::ToolsBeyondParent { tools } if tools == &["shell__exec"])
    );
    assert!(err.to_string().contains("shell__exec"), "{err}");
    let err = child_of(&root, &lead, "bad", tools(&["not a tool"]), HOUR).err().unwrap();
    assert!(matches!(err, IdentityError::ToolName { .. }));
}

#[test]
fn depth_is_capped() {
    let root = RootKey::generate();
    let mut agent = root_agent(&root, HOUR);
    for depth in 1..=4 {
        agent = child_of(&root, &agent, "level", None, HOUR).unwrap();
        assert_eq!(agent.0.depth, depth);
    }
    let err = child_of(&root, &agent, "too-deep", None, HOUR).err().unwrap();
    assert!(matches!(err, IdentityError::DepthExceeded { depth: 5, max: 4 }), "{err}");
}

#[test]
fn a_block_appended_by_the_holder_widens_nothing() {
    let root = RootKey::generate();
    let lead = root_agent(&root, HOUR);
    let child = child_of(&root, &lead, "tester", tools(&["fs__read"]), HOUR).unwrap();
    let verifier = Verifier::new(root.public_key());

    // The holder writes facts that would widen the child if they were read:
    // more tools, no restriction, a shallower depth, another identity.
    let widening = format!(
        r#"delegated_tool(1, "shell__exec");
           tools_restricted(2);
           delegation(1, "{other}", "admin", "spiffe://warrant.local/agent/admin/{other}",
                      "anything", "{by}", "{parent}", 0, 9000000000000);
           agent_id("{other}"); depth(0);
           delegated_tool($d, "shell__exec") <- tools_restricted($d);"#,
        other = uuid_like(),
        by = lead.0.spiffe_id,
        parent = lead.0.agent_id,
    );
    let unverified = UnverifiedBiscuit::from_base64(child.1.expose_secret()).unwrap();
    let appended = unverified
        .append(BlockBuilder::new().code(widening).unwrap())
        .unwrap()
        .to_base64()
        .unwrap();
    assert_eq!(verifier.verify(&appended, T).unwrap(), child.0, "nothing changed");
    assert_eq!(verifier.cached(), 0, "a holder's block is verified in full every time");

    // Nor does a third-party block signed by a key that is not the root.
    let mallory = KeyPair::new();
    let parsed = Biscuit::from_base64(child.1.expose_secret(), biscuit_public(&root)).unwrap();
    let forged_block = BlockBuilder::new()
        .code(r#"delegated_tool(1, "shell__exec"); delegation(2, "x", "y", "z", "t", "b", "p", 0, 1);"#)
        .unwrap();
    let signed = parsed
        .third_party_request()
        .unwrap()
        .create_block(&mallory.private(), forged_block)
        .unwrap();
    let forged = parsed.append_third_party(mallory.public(), signed).unwrap().to_base64().unwrap();
    assert_eq!(verifier.verify(&forged, T).unwrap(), child.0);

    // A holder's block can still narrow: a check that fails refuses the token.
    let narrowed = attenuate(child.1.expose_secret(), "check if time_ms($t), $t < 0;");
    assert_eq!(verifier.verify(&narrowed, T), Err(AuthError::Rejected));
}

#[test]
fn a_delegation_block_made_for_one_parent_does_not_verify_on_another() {
    // The test plays an attacker who holds the root key's signature on one
    // block; it reads the key from a key file to get there.
    let dir = std::env::temp_dir().join(format!("warrant-splice-{}", uuid_like()));
    std::fs::create_dir(&dir).unwrap();
    let key_file = dir.join("root.key");
    let root = RootKey::create(&key_file).unwrap();
    let text = std::fs::read_to_string(&key_file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let hex_key = text.trim().strip_prefix("ed25519-private/").unwrap();
    let root_private =
        biscuit_auth::PrivateKey::from_bytes_hex(hex_key, biscuit_auth::Algorithm::Ed25519)
            .unwrap();
    let alice = root_agent(&root, HOUR);
    let bob = root_agent(&root, HOUR);
    let verifier = Verifier::new(root.public_key());
    let a = Biscuit::from_base64(alice.1.expose_secret(), biscuit_public(&root)).unwrap();
    let b = Biscuit::from_base64(bob.1.expose_secret(), biscuit_public(&root)).unwrap();
    let block = BlockBuilder::new()
        .code(format!(
            r#"delegation(1, "{id}", "thief", "spiffe://warrant.local/agent/thief/{id}", "t",
                          "{by}", "{parent}", {t}, {exp});"#,
            id = uuid_like(),
            by = bob.0.spiffe_id,
            parent = bob.0.agent_id,
            t = T.0,
            exp = T.0 + 1000,
        ))
        .unwrap();
    // Signed by the root, but over alice's token's last signature.
    let signed = a.third_party_request().unwrap().create_block(&root_private, block).unwrap();
    match b.append_third_party(biscuit_public(&root), signed) {
        Err(_) => {}
        Ok(spliced) => {
            let token = spliced.to_base64().unwrap();
            assert!(verifier.verify(&token, T).is_err(), "a spliced delegation verified");
        }
    }
}

#[test]
fn a_child_expires_on_its_own_and_cannot_outlive_its_parent() {
    let root = RootKey::generate();
    let lead = root_agent(&root, HOUR);
    let child = child_of(&root, &lead, "brief", None, Duration::from_secs(60)).unwrap();
    let verifier = Verifier::new(root.public_key());
    let later = UnixMillis(T.0 + 61_000);
    assert!(verifier.verify(lead.1.expose_secret(), later).is_ok());
    assert_eq!(
        verifier.verify(child.1.expose_secret(), later),
        Err(AuthError::Expired { at: child.0.expires_at })
    );
    let err = delegate(
        &root,
        lead.1.expose_secret(),
        &lead.0,
        DelegateRequest {
            trust_domain: &domain(),
            name: AgentName::parse("late").unwrap(),
            task: String::new(),
            ttl: HOUR,
            tools: None,
            now: lead.0.expires_at,
            max_depth: 4,
        },
    )
    .err()
    .unwrap();
    assert!(matches!(err, IdentityError::ParentExpired));
}

fn attenuate(token: &str, code: &str) -> String {
    let unverified = UnverifiedBiscuit::from_base64(token).unwrap();
    unverified.append(BlockBuilder::new().code(code).unwrap()).unwrap().to_base64().unwrap()
}

fn uuid_like() -> String {
    warrant_core::AgentId::random().to_string()
}

fn biscuit_public(root: &RootKey) -> biscuit_auth::PublicKey {
    biscuit_auth::PublicKey::from_bytes_hex(
        &root.public_key().to_hex(),
        biscuit_auth::Algorithm::Ed25519,
    )
    .unwrap()
}
