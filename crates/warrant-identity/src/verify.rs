//! Checking a presented credential: signature, expiry, claims, with a cache.
//!
//! The expensive part of verification is the signature check and the Datalog
//! run. A successful result is cached under the SHA-256 of the token string;
//! a cache hit only re-checks expiry against the `now` of that call. Only
//! successes are cached, so a cache can make a good token cheaper but never a
//! bad one acceptable.
//!
//! A token's bytes are not a stable identity: Biscuit's protobuf wrapper is
//! not canonical, so a few bytes outside the signed payload can change
//! without invalidating the signature. Such a variant carries exactly the same
//! claims and is verified (and cached) as a token of its own. Nothing should
//! deny or revoke by token bytes; revocation is by agent id.

use crate::delegate::read_chain;
use crate::issue::{Claims, ReadClaimsError, TIME_FACT, read_claims};
use crate::key::PublicKey;
use biscuit_auth::builder::{fact, int};
use biscuit_auth::error::{Format, Signature, Token};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;
use warrant_core::{AgentId, UnixMillis};

/// Tokens longer than this are refused before any decoding. An operator's
/// agent token is well under 8 KiB; this leaves room for attenuation blocks.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Cached verifications kept at most; when full, expired entries are dropped
/// and, if that is not enough, the whole cache.
const CACHE_CAPACITY: usize = 10_000;

/// Why a credential was not accepted. The messages are safe to return to the
/// agent: they name no internals and never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not returned by [`Verifier::verify`]; for a caller that found no
    /// credential on a request at all.
    #[error("no agent credential was presented")]
    Missing,
    #[error("agent credential is malformed")]
    Malformed,
    #[error("agent credential was not issued by this gateway")]
    BadSignature,
    #[error("agent credential expired at {}", at.to_rfc3339())]
    Expired { at: UnixMillis },
    /// Not returned by [`Verifier::verify`]; for the caller's revocation
    /// check that follows it (see the crate docs).
    #[error("agent `{agent_id}` has been revoked")]
    Revoked { agent_id: AgentId },
    /// Not returned by [`Verifier::verify`]: the operator stopped the agent
    /// (`warrant kill`) until `warrant resume`.
    #[error(
        "agent `{agent_id}` has been stopped by the operator; it stays stopped until `warrant resume`"
    )]
    Killed { agent_id: AgentId },
    /// The token's own checks (for example a narrowing added by an appended
    /// block) did not pass, or evaluating them exceeded the run limits.
    #[error("agent credential does not satisfy its own checks")]
    Rejected,
}

/// Verifies agent credentials against the root public key. `Send + Sync`;
/// share one per gateway.
pub struct Verifier {
    public_key: biscuit_auth::PublicKey,
    limits: AuthorizerLimits,
    cache: RwLock<HashMap<[u8; 32], Claims>>,
}

impl Verifier {
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key: public_key.inner(),
            // Biscuit's defaults, except the time budget. The fact and
            // iteration caps are what bound a hostile appended block, and they
            // do not depend on the machine; the clock is only a backstop. At
            // 20 ms a valid two-level delegation was refused on a loaded
            // machine ("does not satisfy its own checks") while the same token
            // passed when it was quiet: a decision must not depend on load.
            limits: AuthorizerLimits {
                max_facts: 1000,
                max_iterations: 100,
                max_time: Duration::from_millis(500),
            },
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Returns the claims of `token` if our root key issued it and it is
    /// valid at `now`. Does not consult revocation; see the crate docs.
    pub fn verify(&self, token: &str, now: UnixMillis) -> Result<Claims, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.cache.read().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
        if let Some(claims) = cached {
            return unexpired(claims, now);
        }

        let verified = self.verify_uncached(token, now)?;
        if verified.cacheable {
            self.remember(key, &verified.claims, now);
        }
        Ok(verified.claims)
    }

    /// How many verifications are cached (for metrics and tests).
    pub fn cached(&self) -> usize {
        self.cache.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn verify_uncached(&self, token: &str, now: UnixMillis) -> Result<Verified, AuthError> {
        let biscuit = Biscuit::from_base64(token, self.public_key).map_err(parse_error)?;
        let mut authorizer = AuthorizerBuilder::new()
            .fact(fact(TIME_FACT, &[int(now.0)]))
            .and_then(|b| b.policy("allow if true"))
            .map(|b| b.set_limits(self.limits.clone()))
            .and_then(|b| b.build(&biscuit))
            .map_err(|_| AuthError::Malformed)?;

        let read_error = |e| match e {
            ReadClaimsError::Limits => AuthError::Rejected,
            ReadClaimsError::Shape => AuthError::Malformed,
        };
        let root = read_claims(&mut authorizer).map_err(read_error)?;
        // Blocks after the authority block: delegations (signed by the root
        // key as a third party) and anything a holder appended.
        let mut delegations = 0;
        for index in 1..biscuit.block_count() {
            let external = biscuit.block_external_key(index).map_err(|_| AuthError::Malformed)?;
            if external == Some(self.public_key) {
                delegations += 1;
            }
        }
        let claims = if delegations == 0 {
            root
        } else {
            read_chain(&mut authorizer, self.public_key, root, delegations).map_err(read_error)?
        };
        match authorizer.authorize() {
            Ok(_) => {}
            Err(_) if now >= claims.expires_at => {
                return Err(AuthError::Expired { at: claims.expires_at });
            }
            Err(_) => return Err(AuthError::Rejected),
        }
        let claims = unexpired(claims, now)?;
        // The checks of the authority block and of delegation blocks are
        // ours, and their expiries are in the claims. A block a holder
        // appended may check anything (the time, say), which the cache could
        // not know, so such tokens are verified in full every time.
        let cacheable = biscuit.block_count() == 1 + delegations;
        Ok(Verified { claims, cacheable })
    }

    fn remember(&self, key: [u8; 32], claims: &Claims, now: UnixMillis) {
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, c| now < c.expires_at);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key, claims.clone());
    }
}

struct Verified {
    claims: Claims,
    cacheable: bool,
}

/// The token's own check says the same; this is the check a cache hit relies on.
fn unexpired(claims: Claims, now: UnixMillis) -> Result<Claims, AuthError> {
    if now >= claims.expires_at {
        return Err(AuthError::Expired { at: claims.expires_at });
    }
    Ok(claims)
}

fn parse_error(error: Token) -> AuthError {
    match error {
        Token::Format(
            Format::Signature(Signature::InvalidSignature(_))
            | Format::SealedSignature
            | Format::UnknownPublicKey,
        ) => AuthError::BadSignature,
        _ => AuthError::Malformed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::{IssueRequest, RootKey, TrustDomain, issue};
    use biscuit_auth::Biscuit;
    use warrant_core::AgentName;

    fn assert_send_sync<T: Send + Sync>() {}

    /// An authority block in this crate's layout with one line replaced.
    fn signed_by(root: &RootKey, replace: &str, with: &str) -> String {
        let id = AgentId::random();
        let code = format!(
            r#"credential("warrant-agent-v1");
               agent_id("{id}");
               agent_name("worker");
               spiffe_id("spiffe://warrant.local/agent/worker/{id}");
               task("t");
               spawned_by("operator:test");
               depth(0);
               issued_at(0);
               expires_at(9000000000000);
               check if time_ms($t), $t < 9000000000000;"#
        );
        assert!(code.contains(replace), "{replace}");
        let code = code.replace(replace, with);
        let biscuit = Biscuit::builder().code(code).unwrap().build(root.keypair()).unwrap();
        biscuit.to_base64().unwrap()
    }

    #[test]
    fn a_signed_token_without_well_formed_claims_is_malformed() {
        let root = RootKey::generate();
        let verifier = Verifier::new(root.public_key());
        let now = UnixMillis(1_000);
        assert!(verifier.verify(&signed_by(&root, "", ""), now).is_ok(), "the template is good");
        for (replace, with) in [
            ("agent_name(\"worker\");", ""),
            ("depth(0);", "depth(-1);"),
            ("depth(0);", "depth(0); depth(1);"),
            ("task(\"t\");", "task(\"t\"); task(\"u\");"),
            ("task(\"t\");", "task(1);"),
            ("agent_name(\"worker\");", "agent_name(\"a/b\");"),
            ("credential(\"warrant-agent-v1\");", "credential(\"warrant-agent-v2\");"),
        ] {
            let token = signed_by(&root, replace, with);
            assert_eq!(verifier.verify(&token, now), Err(AuthError::Malformed), "{with}");
        }
        assert_eq!(verifier.cached(), 1);
    }

    #[test]
    fn verifier_can_be_shared_between_threads() {
        assert_send_sync::<Verifier>();
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_still_verifies() {
        let root = RootKey::generate();
        let verifier = Verifier::new(root.public_key());
        let domain = TrustDomain::parse("warrant.local").unwrap();
        let now = UnixMillis(1_000_000);
        let live = Claims {
            agent_id: AgentId::random(),
            name: AgentName::parse("filler").unwrap(),
            spiffe_id: String::new(),
            task: String::new(),
            spawned_by: "operator:test".into(),
            depth: 0,
            issued_at: now,
            expires_at: UnixMillis(now.0 + 60_000),
            parent: None,
            ancestors: Vec::new(),
            tools: None,
        };
        let dead = Claims { expires_at: now, ..live.clone() };
        for i in 0..CACHE_CAPACITY {
            let mut key = [0_u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let claims = if i % 2 == 0 { &dead } else { &live };
            verifier.remember(key, claims, now);
        }
        assert_eq!(verifier.cached(), CACHE_CAPACITY);

        let (claims, token) = issue(
            &root,
            IssueRequest {
                trust_domain: &domain,
                name: AgentName::parse("worker").unwrap(),
                task: "t".into(),
                spawned_by: "operator:test".into(),
                ttl: Duration::from_secs(60),
                now,
            },
        )
        .unwrap();
        assert_eq!(verifier.verify(token.expose_secret(), now).unwrap(), claims);
        // The expired half went, the live half stayed, the new one came in.
        assert_eq!(verifier.cached(), CACHE_CAPACITY / 2 + 1);
    }
}
