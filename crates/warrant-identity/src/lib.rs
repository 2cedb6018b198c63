//! Agent identity for Warrant: who an agent is, proven by a credential.
//!
//! Every agent instance gets its own short-lived credential, a
//! [Biscuit](https://www.biscuitsec.org) token signed by the gateway's root key
//! (Ed25519). Its authority block names the agent's SPIFFE-style id
//! (`spiffe://<trust-domain>/agent/<name>/<agent-uuid>`), who spawned it
//! (`operator:alice`), its declared task, its depth in the chain of custody,
//! and when it was issued and expires. The token carries its own expiry check,
//! evaluated against a time the caller passes in, never the system clock.
//!
//! The pieces:
//!
//! - [`RootKey`] is the only holder of the private key; [`RootKey::create`]
//!   writes it with mode 0600 and [`RootKey::load`] refuses a file that group or
//!   others may access.
//! - [`issue`] mints a credential ([`Claims`] and the secret [`AgentToken`]).
//! - [`Verifier`] checks a presented token against the root public key and
//!   caches successful verifications, so the hot path does not re-verify
//!   signatures; expiry is checked on every call, cached or not.
//! - [`Registry`] records issued agents and revocations in SQLite, shared by
//!   the CLI (which writes) and a running gateway (which reads).
//!
//! # Revocation
//!
//! The [`Verifier`] is pure cryptography and a cache: it answers "did our root
//! key issue this, and is it still within its lifetime", not "is this agent
//! still allowed". Revocation is the caller's second step. The gateway keeps
//! [`Registry::revoked_ids`] in memory (refreshing it when the registry
//! changes) and, on every request, after [`Verifier::verify`] succeeds, checks
//! `claims.agent_id` against that set, answering [`AuthError::Revoked`] on a
//! hit. A revoked agent's token stays cryptographically valid until it expires,
//! which is why lifetimes are short (at most 24 hours).
//!
//! ```
//! use std::collections::HashSet;
//! use std::time::Duration;
//! use warrant_core::{AgentId, AgentName, UnixMillis};
//! use warrant_identity::{AuthError, Claims, IssueRequest, RootKey, TrustDomain, Verifier, issue};
//!
//! /// The gateway's check on every request.
//! fn authenticate(
//!     verifier: &Verifier,
//!     revoked: &HashSet<AgentId>, // from `Registry::revoked_ids`, kept in memory
//!     token: &str,
//!     now: UnixMillis,
//! ) -> Result<Claims, AuthError> {
//!     let claims = verifier.verify(token, now)?;
//!     if revoked.contains(&claims.agent_id) {
//!         return Err(AuthError::Revoked { agent_id: claims.agent_id });
//!     }
//!     Ok(claims)
//! }
//!
//! let root = RootKey::generate();
//! let domain = TrustDomain::parse("warrant.local")?;
//! let now = UnixMillis::now();
//! let (claims, token) = issue(&root, IssueRequest {
//!     trust_domain: &domain,
//!     name: AgentName::parse("researcher")?,
//!     task: "summarise the inbox".into(),
//!     spawned_by: "operator:alice".into(),
//!     ttl: Duration::from_secs(15 * 60),
//!     now,
//! })?;
//! let verifier = Verifier::new(root.public_key());
//! let mut revoked = HashSet::new();
//! assert!(authenticate(&verifier, &revoked, token.expose_secret(), now).is_ok());
//! revoked.insert(claims.agent_id);
//! assert!(matches!(
//!     authenticate(&verifier, &revoked, token.expose_secret(), now),
//!     Err(AuthError::Revoked { .. })
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Attenuation
//!
//! A credential is signed, not encrypted: whoever holds the token can read
//! its claims (including the task), so a task must not contain secrets.
//!
//! Claims are read only from the authority block, the one the root key signed.
//! A holder may append blocks (a later step uses them for child agents), but
//! facts in those blocks never change the claims, and a block can add checks
//! (narrowing) but cannot lift the authority block's expiry. Tokens with
//! appended blocks are verified in full on every call rather than cached,
//! because their checks may depend on the time in ways the cache cannot know.
//!
//! # What this crate does not do
//!
//! It does not decide what an agent may do (that is policy), does not read a
//! clock on the verification path, does not log, and does not run a server.
//! Key files are protected by Unix permissions only; the crate targets Unix.

mod delegate;
mod facts;
mod issue;
mod key;
mod registry;
mod verify;

use std::path::PathBuf;
use warrant_core::AgentId;

pub use delegate::{DEFAULT_MAX_DEPTH, DelegateRequest, MAX_DELEGATED_TOOLS, delegate};
pub use facts::operator;
pub use issue::{
    Ancestor, Claims, IssueRequest, MAX_TASK_CHARS, MAX_TTL, MIN_TTL, TrustDomain, issue,
};
pub use key::{AgentToken, PublicKey, RootKey};
pub use registry::{AgentRecord, KillSet, KillTarget, Registry};
pub use verify::{AuthError, MAX_TOKEN_BYTES, Verifier};

/// An identity operation failed (key files, issuing, the registry).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("root key file `{}` already exists; refusing to overwrite it", path.display())]
    KeyFileExists { path: PathBuf },
    #[error(
        "root key file `{}` has mode {mode:04o} and may be accessed by group or others; run `chmod 600` on it",
        path.display()
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("cannot read root key file `{}`", path.display())]
    KeyFileRead { path: PathBuf, source: std::io::Error },
    #[error("cannot write root key file `{}`", path.display())]
    KeyFileWrite { path: PathBuf, source: std::io::Error },
    #[error("root key file `{}` does not hold an ed25519 private key", path.display())]
    KeyFileFormat { path: PathBuf },
    #[error("public key `{value}` is not 64 hex characters of an ed25519 key")]
    PublicKey { value: String },
    #[error("trust domain `{value}` must be lowercase DNS labels (a-z, 0-9, `-`) joined by `.`")]
    TrustDomain { value: String },
    #[error("credential lifetime of {millis} ms is outside the allowed 1 s to 24 h")]
    Ttl { millis: u128 },
    #[error("task is {chars} characters long; the limit is {max}")]
    TaskTooLong { chars: usize, max: usize },
    #[error("task contains a control character other than a line break or tab")]
    TaskControlCharacter,
    #[error("spawned-by `{value}` must be 1 to 256 characters without control characters")]
    SpawnedBy { value: String },
    #[error("agent name `{name}` cannot be a SPIFFE path segment")]
    SpiffeSegment { name: String },
    #[error("a child would be at depth {depth}, past the limit of {max}")]
    DepthExceeded { depth: u32, max: u32 },
    #[error("the parent credential has expired")]
    ParentExpired,
    #[error("a child may be given at most {max} tools; {count} were asked for")]
    TooManyTools { count: usize, max: usize },
    #[error("`{value}` is not a tool name (upstream__tool)")]
    ToolName { value: String },
    #[error("the parent may not call {}, so it cannot give them to a child", tools.join(", "))]
    ToolsBeyondParent { tools: Vec<String> },
    #[error("cannot sign the agent credential: {reason}")]
    Sign { reason: String },
    #[error("cannot {operation} the agent registry at `{}`", path.display())]
    Registry { operation: &'static str, path: PathBuf, source: rusqlite::Error },
    #[error("cannot set permissions on the agent registry at `{}`", path.display())]
    RegistryFile { path: PathBuf, source: std::io::Error },
    #[error(
        "agent registry at `{}` cannot use WAL mode (journal mode stayed `{mode}`), so it cannot be shared between processes",
        path.display()
    )]
    RegistryNotWal { path: PathBuf, mode: String },
    #[error("agent registry at `{}` has format `{found}`; this build reads `{expected}`", path.display())]
    RegistryFormat { path: PathBuf, found: String, expected: &'static str },
    #[error("agent `{id}` is already recorded")]
    DuplicateAgent { id: AgentId },
    #[error("no agent `{id}` in the registry")]
    UnknownAgent { id: AgentId },
    #[error("agent registry row for `{id}` is corrupt: {reason}")]
    CorruptRecord { id: String, reason: String },
}

/// Error messages quote user input; keep them short and free of control
/// characters.
fn printable(value: &str) -> String {
    value.chars().take(80).flat_map(char::escape_default).collect()
}
