//! Child agents: a parent's credential with a delegation block appended.
//!
//! A child's token is its parent's token plus one block. The block is a
//! Biscuit *third-party* block signed by the root key, so only the gateway
//! (or the operator's CLI, which holds the same key) can make one, and it is
//! bound to the signature of the block before it, so it cannot be lifted into
//! another token. It names the child (id, name, task, depth, parent) and can
//! only narrow:
//!
//! - its expiry is no later than the parent's (a longer lifetime is cut to
//!   the parent's), and it carries its own expiry check;
//! - its tool list, if any, is a subset of what the parent may call;
//! - its depth is the parent's plus one, up to a cap.
//!
//! Anyone holding a token may still append ordinary blocks (that is how
//! Biscuit works). Facts in them are never read as claims: claims come from
//! the authority block and from blocks the root key signed, found with a
//! `trusting` scope on the root key. Checks in them can only make the token
//! fail. So a holder can narrow a token further but never widen it.

use crate::issue::{Claims, MAX_TTL, MIN_TTL, ReadClaimsError, TIME_FACT, TrustDomain};
use crate::key::{AgentToken, RootKey};
use crate::{IdentityError, printable};
use biscuit_auth::builder::{BlockBuilder, Fact, Rule, fact, int, string};
use biscuit_auth::{Authorizer, Biscuit, PublicKey};
use std::collections::BTreeSet;
use std::time::Duration;
use warrant_core::{AgentId, AgentName, ToolName, UnixMillis};

/// How deep a chain of custody may go unless configured otherwise: an
/// operator's agent is depth 0, its children depth 1, and so on.
pub const DEFAULT_MAX_DEPTH: u32 = 4;
/// The longest tool list one delegation may carry.
pub const MAX_DELEGATED_TOOLS: usize = 64;

pub(crate) const DELEGATION_FACT: &str = "delegation";
pub(crate) const TOOL_FACT: &str = "delegated_tool";
pub(crate) const RESTRICTED_FACT: &str = "tools_restricted";

/// What to spawn a child agent for.
#[derive(Debug, Clone)]
pub struct DelegateRequest<'a> {
    pub trust_domain: &'a TrustDomain,
    pub name: AgentName,
    pub task: String,
    /// Asked-for lifetime; cut to the parent's remaining lifetime.
    pub ttl: Duration,
    /// The tools the child may call at most (qualified names); `None`
    /// inherits the parent's limit.
    pub tools: Option<BTreeSet<String>>,
    pub now: UnixMillis,
    /// The deepest a child may be.
    pub max_depth: u32,
}

/// Mints a child credential for `parent`, whose verified claims are
/// `parent_claims` and whose token is `parent_token`. The caller has
/// verified the parent (signature, expiry, revocation, kill) just before.
pub fn delegate(
    root: &RootKey,
    parent_token: &str,
    parent_claims: &Claims,
    req: DelegateRequest<'_>,
) -> Result<(Claims, AgentToken), IdentityError> {
    let depth = parent_claims.depth.saturating_add(1);
    if depth > req.max_depth {
        return Err(IdentityError::DepthExceeded { depth, max: req.max_depth });
    }
    if req.ttl < MIN_TTL || req.ttl > MAX_TTL {
        return Err(IdentityError::Ttl { millis: req.ttl.as_millis() });
    }
    crate::issue::check_task(&req.task)?;
    crate::issue::check_spiffe_segment(&req.name)?;
    if req.now >= parent_claims.expires_at {
        return Err(IdentityError::ParentExpired);
    }
    let tools = match req.tools {
        None => parent_claims.tools.clone(),
        Some(asked) => Some(narrow(&asked, parent_claims.tools.as_ref())?),
    };

    let agent_id = AgentId::random();
    let mut ancestors = parent_claims.ancestors.clone();
    ancestors.push(parent_claims.as_ancestor());
    let claims = Claims {
        spiffe_id: crate::issue::spiffe_id(req.trust_domain, &req.name, &agent_id),
        agent_id,
        name: req.name,
        task: req.task,
        spawned_by: parent_claims.spiffe_id.clone(),
        depth,
        issued_at: req.now,
        expires_at: req.now.plus(req.ttl).min(parent_claims.expires_at),
        parent: Some(parent_claims.agent_id),
        ancestors,
        tools,
    };

    let sign_error = |e: biscuit_auth::error::Token| IdentityError::Sign { reason: e.to_string() };
    let root_public = root.keypair().public();
    let parent = Biscuit::from_base64(parent_token, root_public).map_err(sign_error)?;
    let block = delegation_block(&claims).map_err(sign_error)?;
    let signed = parent
        .third_party_request()
        .and_then(|request| request.create_block(&root.keypair().private(), block))
        .map_err(sign_error)?;
    let child = parent.append_third_party(root_public, signed).map_err(sign_error)?;
    let token = child.to_base64().map_err(sign_error)?;
    Ok((claims, AgentToken::from_string(token)))
}

/// The child's tool list: the asked-for names, each valid and each within
/// the parent's list (if the parent has one).
fn narrow(
    asked: &BTreeSet<String>,
    parent: Option<&BTreeSet<String>>,
) -> Result<BTreeSet<String>, IdentityError> {
    if asked.len() > MAX_DELEGATED_TOOLS {
        return Err(IdentityError::TooManyTools { count: asked.len(), max: MAX_DELEGATED_TOOLS });
    }
    if let Some(bad) = asked.iter().find(|t| ToolName::parse(t).is_err()) {
        return Err(IdentityError::ToolName { value: printable(bad) });
    }
    if let Some(parent) = parent {
        let beyond: Vec<String> = asked.difference(parent).map(|t| printable(t)).collect();
        if !beyond.is_empty() {
            return Err(IdentityError::ToolsBeyondParent { tools: beyond });
        }
    }
    Ok(asked.clone())
}

/// The delegation block: the child's claims as facts built from terms (never
/// formatted into Datalog), its tool list, and its expiry check.
fn delegation_block(claims: &Claims) -> Result<BlockBuilder, biscuit_auth::error::Token> {
    let depth = int(i64::from(claims.depth));
    let parent = claims.parent.map(|p| p.to_string()).unwrap_or_default();
    let mut facts: Vec<Fact> = vec![fact(
        DELEGATION_FACT,
        &[
            depth.clone(),
            string(&claims.agent_id.to_string()),
            string(claims.name.as_str()),
            string(&claims.spiffe_id),
            string(&claims.task),
            string(&claims.spawned_by),
            string(&parent),
            int(claims.issued_at.0),
            int(claims.expires_at.0),
        ],
    )];
    if let Some(tools) = &claims.tools {
        facts.push(fact(RESTRICTED_FACT, std::slice::from_ref(&depth)));
        facts.extend(tools.iter().map(|t| fact(TOOL_FACT, &[depth.clone(), string(t)])));
    }
    let mut block = BlockBuilder::new();
    for f in facts {
        block = block.fact(f)?;
    }
    block.code(format!("check if {TIME_FACT}($t), $t < {};", claims.expires_at.0))
}

type DelegationRow = (i64, String, String, String, String, String, String, i64, i64);

/// Reads the chain of custody from the delegation blocks (those the root key
/// signed, `expected` of them) on top of the authority block's claims, and
/// checks that it is one unbroken, narrowing chain. Returns the claims of the
/// last agent in it, the token's holder.
pub(crate) fn read_chain(
    authorizer: &mut Authorizer,
    root_key: PublicKey,
    authority: Claims,
    expected: usize,
) -> Result<Claims, ReadClaimsError> {
    let mut rows: Vec<DelegationRow> = query_trusting(
        authorizer,
        root_key,
        &format!(
            "d($depth, $id, $name, $spiffe, $task, $by, $parent, $iat, $exp) <- \
             {DELEGATION_FACT}($depth, $id, $name, $spiffe, $task, $by, $parent, $iat, $exp) \
             trusting {{root}}"
        ),
    )?;
    let tools: Vec<(i64, String)> = query_trusting(
        authorizer,
        root_key,
        &format!("t($depth, $tool) <- {TOOL_FACT}($depth, $tool) trusting {{root}}"),
    )?;
    let restricted: Vec<(i64,)> = query_trusting(
        authorizer,
        root_key,
        &format!("r($depth) <- {RESTRICTED_FACT}($depth) trusting {{root}}"),
    )?;
    if rows.len() != expected {
        return Err(ReadClaimsError::Shape);
    }
    rows.sort_by_key(|row| row.0);

    let mut current = authority;
    for (depth, id, name, spiffe_id, task, spawned_by, parent, issued_at, expires_at) in rows {
        let depth = u32::try_from(depth).map_err(|_| ReadClaimsError::Shape)?;
        let parent = AgentId::parse(&parent).map_err(|_| ReadClaimsError::Shape)?;
        let unbroken = depth == current.depth.saturating_add(1)
            && parent == current.agent_id
            && spawned_by == current.spiffe_id
            && expires_at <= current.expires_at.0
            && issued_at >= current.issued_at.0;
        if !unbroken {
            return Err(ReadClaimsError::Shape);
        }
        let listed: BTreeSet<String> =
            tools.iter().filter(|(d, _)| *d == i64::from(depth)).map(|(_, t)| t.clone()).collect();
        let narrowed = if restricted.iter().any(|(d,)| *d == i64::from(depth)) {
            // Made by `delegate`, which never widens; a list that does is
            // not one of ours.
            if current.tools.as_ref().is_some_and(|p| !listed.is_subset(p)) {
                return Err(ReadClaimsError::Shape);
            }
            Some(listed)
        } else if listed.is_empty() {
            current.tools.clone()
        } else {
            return Err(ReadClaimsError::Shape);
        };
        let ancestor = current.as_ancestor();
        let mut ancestors = std::mem::take(&mut current.ancestors);
        ancestors.push(ancestor);
        current = Claims {
            agent_id: AgentId::parse(&id).map_err(|_| ReadClaimsError::Shape)?,
            name: AgentName::parse(&name).map_err(|_| ReadClaimsError::Shape)?,
            spiffe_id,
            task,
            spawned_by,
            depth,
            issued_at: UnixMillis(issued_at),
            expires_at: UnixMillis(expires_at),
            parent: Some(parent),
            ancestors,
            tools: narrowed,
        };
    }
    Ok(current)
}

/// Runs `rule`, whose body trusts `{root}`, with `{root}` bound to the root
/// key: it sees only facts of blocks that key signed.
fn query_trusting<T>(
    authorizer: &mut Authorizer,
    root_key: PublicKey,
    rule: &str,
) -> Result<Vec<T>, ReadClaimsError>
where
    T: TryFrom<biscuit_auth::builder::Fact, Error = biscuit_auth::error::Token>,
{
    let mut rule: Rule = rule.try_into().map_err(|_| ReadClaimsError::Shape)?;
    rule.set_scope("root", root_key).map_err(|_| ReadClaimsError::Shape)?;
    authorizer.query(rule).map_err(|e| match e {
        biscuit_auth::error::Token::RunLimit(_) => ReadClaimsError::Limits,
        _ => ReadClaimsError::Shape,
    })
}
