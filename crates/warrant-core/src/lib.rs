//! The shared vocabulary of Warrant.
//!
//! Untrusted strings (agent names, upstream names, tool names, ids) become the
//! types in this crate once, at the boundary where they arrive; code past that
//! point takes the types and never re-checks. The crate also owns the two
//! byte-level conventions every other crate must agree on: canonical JSON and
//! SHA-256 fingerprints.
//!
//! It deliberately does no I/O, holds no keys and knows nothing of MCP, Cedar
//! or SQLite.

mod canonical;
mod names;
pub mod text;
mod time;

pub use canonical::{CanonicalJsonError, canonical_json, sha256_hex};
pub use names::{AgentId, AgentName, NameError, ToolName, UpstreamName};
pub use text::printable;
pub use time::UnixMillis;
