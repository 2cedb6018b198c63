//! The `warrant-audit/v1` format as the verifier reads it, written from the
//! crate doc (not shared with the writer on purpose).

use crate::VerifyError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;
use warrant_core::{canonical_json, sha256_hex};

pub(crate) const FORMAT: &str = "warrant-audit/v1";

pub(crate) const GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// The kind of the record in which the writer declares its witness.
pub(crate) const WITNESS_KIND: &str = "audit_witness";

/// The body of an `audit_witness` record, as the crate doc specifies it.
#[derive(Deserialize)]
pub(crate) struct DeclarationBody {
    pub(crate) path: Option<String>,
    pub(crate) required: bool,
    pub(crate) written: bool,
}

/// The record hash: SHA-256 of the canonical JSON of every other column.
pub(crate) fn record_hash(
    seq: u64,
    ts_ms: i64,
    kind: &str,
    agent: Option<&str>,
    body: &str,
    prev_hash: &str,
) -> Option<String> {
    let mut preimage = Map::new();
    preimage.insert("agent".into(), agent.map_or(Value::Null, Value::from));
    preimage.insert("body".into(), Value::from(body));
    preimage.insert("kind".into(), Value::from(kind));
    preimage.insert("prev".into(), Value::from(prev_hash));
    preimage.insert("seq".into(), Value::from(seq));
    preimage.insert("ts_ms".into(), Value::from(ts_ms));
    let canonical = canonical_json(&Value::Object(preimage)).ok()?;
    Some(sha256_hex(canonical.as_bytes()))
}

/// The bytes a checkpoint signature covers.
pub(crate) fn checkpoint_message(seq: u64, head_hash: &str, ts_ms: i64) -> String {
    format!("warrant-audit-checkpoint/v1\n{seq}\n{head_hash}\n{ts_ms}")
}

/// Opens `path` read-only and checks it declares the v1 format.
pub(crate) fn open_v1(path: &Path) -> Result<Connection, VerifyError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|source| VerifyError::Open { path: path.to_owned(), source })?;
    let format: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0))
        .optional()
        .map_err(|err| VerifyError::Format { path: path.to_owned(), reason: err.to_string() })?;
    match format.as_deref() {
        Some(FORMAT) => Ok(conn),
        Some(other) => Err(VerifyError::Format {
            path: path.to_owned(),
            reason: format!("meta.format is `{other}`"),
        }),
        None => Err(VerifyError::Format {
            path: path.to_owned(),
            reason: "meta.format is missing".to_owned(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn record_hash_is_the_documented_preimage() {
        let preimage = r#"{"agent":"a1","body":"{\"x\":1}","kind":"decision","prev":"00","seq":7,"ts_ms":1700000000000}"#;
        assert_eq!(
            record_hash(7, 1_700_000_000_000, "decision", Some("a1"), r#"{"x":1}"#, "00"),
            Some(sha256_hex(preimage.as_bytes()))
        );
        let no_agent = r#"{"agent":null,"body":"{}","kind":"k","prev":"p","seq":1,"ts_ms":-5}"#;
        assert_eq!(record_hash(1, -5, "k", None, "{}", "p"), Some(sha256_hex(no_agent.as_bytes())));
    }
}
