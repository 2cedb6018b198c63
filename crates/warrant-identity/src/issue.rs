//! Minting credentials, and the layout of the authority block they carry.
//!
//! The authority block is written here and read back here, so the fact names
//! live in one place. Every claim is a fact of the authority block; the block
//! also carries the token's own expiry check against `time_ms($t)`, a fact
//! the verifier supplies (an integer of Unix milliseconds, so expiry is exact
//! to the millisecond, unlike Biscuit's second-precision dates).

use crate::key::{AgentToken, RootKey};
use crate::{IdentityError, printable};
use biscuit_auth::builder::{BiscuitBuilder, Fact, fact, int, string};
use biscuit_auth::{Authorizer, Biscuit};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;
use warrant_core::{AgentId, AgentName, UnixMillis};

/// The shortest credential lifetime [`issue`] accepts.
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest credential lifetime [`issue`] accepts: nothing an agent holds
/// is long-lived.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest declared task, in characters.
pub const MAX_TASK_CHARS: usize = 1024;
const MAX_SPAWNED_BY_CHARS: usize = 256;
const MAX_TRUST_DOMAIN_CHARS: usize = 253;

/// The name of the fact carrying the verification time, in Unix milliseconds.
pub(crate) const TIME_FACT: &str = "time_ms";
/// Marks the authority block as this crate's layout, version 1.
const CREDENTIAL_FORMAT: &str = "warrant-agent-v1";

/// What a credential says about its agent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Claims {
    pub agent_id: AgentId,
    pub name: AgentName,
    /// `spiffe://<trust-domain>/agent/<name>/<agent-id>`.
    pub spiffe_id: String,
    /// The task the agent was spawned for, as declared.
    pub task: String,
    /// Who spawned it: `operator:<user>` for a human at the CLI.
    pub spawned_by: String,
    /// 0 for an agent spawned by an operator.
    pub depth: u32,
    pub issued_at: UnixMillis,
    /// The first instant at which the credential is no longer valid.
    pub expires_at: UnixMillis,
    /// The agent that spawned this one; `None` for a root agent.
    pub parent: Option<AgentId>,
    /// Every agent above this one, the root first, the parent last; empty
    /// for a root agent.
    pub ancestors: Vec<Ancestor>,
    /// The most this agent may call, when a delegation narrowed it: the
    /// intersection of every tool list in its chain. `None`: no list
    /// narrowed it, and policy alone decides.
    pub tools: Option<BTreeSet<String>>,
}

/// An agent in the chain of custody above the one that holds the token.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ancestor {
    pub agent_id: AgentId,
    pub name: AgentName,
    pub spiffe_id: String,
    pub task: String,
    pub spawned_by: String,
    pub depth: u32,
}

impl Claims {
    /// The ids of the whole chain, root first, this agent last: revoking or
    /// stopping any of them stops this agent.
    pub fn chain_ids(&self) -> impl Iterator<Item = &AgentId> {
        self.ancestors.iter().map(|a| &a.agent_id).chain(std::iter::once(&self.agent_id))
    }

    /// The chain of custody: the operator who spawned the root, then the
    /// SPIFFE id of each agent down to this one.
    pub fn custody(&self) -> Vec<String> {
        let root_by = self.ancestors.first().map_or(&self.spawned_by, |a| &a.spawned_by);
        std::iter::once(root_by.clone())
            .chain(self.ancestors.iter().map(|a| a.spiffe_id.clone()))
            .chain(std::iter::once(self.spiffe_id.clone()))
            .collect()
    }

    /// This agent as an ancestor of a child it spawns.
    pub(crate) fn as_ancestor(&self) -> Ancestor {
        Ancestor {
            agent_id: self.agent_id,
            name: self.name.clone(),
            spiffe_id: self.spiffe_id.clone(),
            task: self.task.clone(),
            spawned_by: self.spawned_by.clone(),
            depth: self.depth,
        }
    }
}

/// What to issue a credential for.
#[derive(Debug, Clone)]
pub struct IssueRequest<'a> {
    pub trust_domain: &'a TrustDomain,
    pub name: AgentName,
    pub task: String,
    pub spawned_by: String,
    /// Between [`MIN_TTL`] and [`MAX_TTL`].
    pub ttl: Duration,
    pub now: UnixMillis,
}

/// The SPIFFE trust domain of this gateway (`warrant.local`): lowercase DNS
/// labels of `a-z`, `0-9` and `-`, joined by `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustDomain(String);

impl TrustDomain {
    pub fn parse(value: &str) -> Result<Self, IdentityError> {
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if value.is_empty()
            || value.len() > MAX_TRUST_DOMAIN_CHARS
            || !value.split('.').all(label_ok)
        {
            return Err(IdentityError::TrustDomain { value: printable(value) });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Mints a credential for a new agent instance, spawned by an operator
/// (depth 0), with a fresh random agent id.
pub fn issue(root: &RootKey, req: IssueRequest<'_>) -> Result<(Claims, AgentToken), IdentityError> {
    if req.ttl < MIN_TTL || req.ttl > MAX_TTL {
        return Err(IdentityError::Ttl { millis: req.ttl.as_millis() });
    }
    check_task(&req.task)?;
    let spawned_by_chars = req.spawned_by.chars().count();
    if !(1..=MAX_SPAWNED_BY_CHARS).contains(&spawned_by_chars)
        || req.spawned_by.chars().any(char::is_control)
    {
        return Err(IdentityError::SpawnedBy { value: printable(&req.spawned_by) });
    }
    check_spiffe_segment(&req.name)?;

    let agent_id = AgentId::random();
    let claims = Claims {
        spiffe_id: spiffe_id(req.trust_domain, &req.name, &agent_id),
        agent_id,
        name: req.name,
        task: req.task,
        spawned_by: req.spawned_by,
        depth: 0,
        issued_at: req.now,
        expires_at: req.now.plus(req.ttl),
        parent: None,
        ancestors: Vec::new(),
        tools: None,
    };
    let sign_error = |e: biscuit_auth::error::Token| IdentityError::Sign { reason: e.to_string() };
    let biscuit =
        authority_block(&claims).map_err(sign_error)?.build(root.keypair()).map_err(sign_error)?;
    let token = biscuit.to_base64().map_err(sign_error)?;
    Ok((claims, AgentToken::from_string(token)))
}

pub(crate) fn check_task(task: &str) -> Result<(), IdentityError> {
    let chars = task.chars().count();
    if chars > MAX_TASK_CHARS {
        return Err(IdentityError::TaskTooLong { chars, max: MAX_TASK_CHARS });
    }
    // Multi-line tasks are normal (a pasted brief); other control characters
    // (escape sequences, NUL, DEL) are not text. Printers escape line breaks.
    if task.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(IdentityError::TaskControlCharacter);
    }
    Ok(())
}

/// SPIFFE forbids the dot segments; `AgentName` alone would allow them.
pub(crate) fn check_spiffe_segment(name: &AgentName) -> Result<(), IdentityError> {
    if matches!(name.as_str(), "." | "..") {
        return Err(IdentityError::SpiffeSegment { name: name.as_str().to_owned() });
    }
    Ok(())
}

pub(crate) fn spiffe_id(domain: &TrustDomain, name: &AgentName, id: &AgentId) -> String {
    format!("spiffe://{domain}/agent/{name}/{id}")
}

/// The authority block for `claims`: one fact per claim, plus the expiry
/// check. Facts are built from terms, never by formatting strings into
/// Datalog, so a task cannot inject rules.
fn authority_block(claims: &Claims) -> Result<BiscuitBuilder, biscuit_auth::error::Token> {
    let facts: [Fact; 9] = [
        fact("credential", &[string(CREDENTIAL_FORMAT)]),
        fact("agent_id", &[string(&claims.agent_id.to_string())]),
        fact("agent_name", &[string(claims.name.as_str())]),
        fact("spiffe_id", &[string(&claims.spiffe_id)]),
        fact("task", &[string(&claims.task)]),
        fact("spawned_by", &[string(&claims.spawned_by)]),
        fact("depth", &[int(i64::from(claims.depth))]),
        fact("issued_at", &[int(claims.issued_at.0)]),
        fact("expires_at", &[int(claims.expires_at.0)]),
    ];
    let mut builder = Biscuit::builder();
    for f in facts {
        builder = builder.fact(f)?;
    }
    builder.code(format!("check if {TIME_FACT}($t), $t < {};", claims.expires_at.0))
}

/// Why the claims could not be read back.
pub(crate) enum ReadClaimsError {
    /// The Datalog evaluation hit its limits.
    Limits,
    /// The authority block does not have exactly one well-formed set of claims.
    Shape,
}

type ClaimsRow = (String, String, String, String, String, String, i64, i64, i64);

/// Reads the claims from the authority block only: Biscuit's `query` sees
/// the authorizer's facts and the authority block's, never an appended
/// block's, so a holder cannot add or change a claim.
pub(crate) fn read_claims(authorizer: &mut Authorizer) -> Result<Claims, ReadClaimsError> {
    let rule = "claims($f, $id, $name, $spiffe, $task, $by, $depth, $iat, $exp) <- \
        credential($f), agent_id($id), agent_name($name), spiffe_id($spiffe), task($task), \
        spawned_by($by), depth($depth), issued_at($iat), expires_at($exp)";
    let mut rows: Vec<ClaimsRow> = authorizer.query(rule).map_err(|e| match e {
        biscuit_auth::error::Token::RunLimit(_) => ReadClaimsError::Limits,
        _ => ReadClaimsError::Shape,
    })?;
    let (format, id, name, spiffe_id, task, spawned_by, depth, issued_at, expires_at) =
        match (rows.pop(), rows.is_empty()) {
            (Some(row), true) => row,
            _ => return Err(ReadClaimsError::Shape),
        };
    if format != CREDENTIAL_FORMAT {
        return Err(ReadClaimsError::Shape);
    }
    Ok(Claims {
        agent_id: AgentId::parse(&id).map_err(|_| ReadClaimsError::Shape)?,
        name: AgentName::parse(&name).map_err(|_| ReadClaimsError::Shape)?,
        spiffe_id,
        task,
        spawned_by,
        depth: u32::try_from(depth).map_err(|_| ReadClaimsError::Shape)?,
        issued_at: UnixMillis(issued_at),
        expires_at: UnixMillis(expires_at),
        parent: None,
        ancestors: Vec::new(),
        tools: None,
    })
}
