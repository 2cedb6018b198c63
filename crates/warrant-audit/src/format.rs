//! The `warrant-audit/v1` byte formats: schema, record hash, checkpoint
//! message. The crate doc is the specification; this is its only
//! implementation in the writer.

use serde_json::json;
use warrant_core::{CanonicalJsonError, canonical_json, sha256_hex};

/// The value of `meta.format`.
pub(crate) const FORMAT: &str = "warrant-audit/v1";

/// The kind of the record in which the writer says where its witness is
/// (see `witness.rs`). Not an [`EventKind`](crate::EventKind): only the
/// writer writes it, never a caller.
pub(crate) const WITNESS_KIND: &str = "audit_witness";

/// The `meta` key holding the seq of the latest witness declaration, so an
/// opener can tell whether it needs to write one without scanning the log.
pub(crate) const WITNESS_HINT_KEY: &str = "witness_declaration";

/// `prev_hash` of the first record.
pub(crate) const GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Creates the v1 tables in an empty database.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records(
    seq INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    agent TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints(
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta(
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The hash of one record, over every column but `hash` itself.
pub(crate) fn record_hash(
    seq: u64,
    ts_ms: i64,
    kind: &str,
    agent: Option<&str>,
    body: &str,
    prev_hash: &str,
) -> Result<String, CanonicalJsonError> {
    let preimage = json!({
        "agent": agent,
        "body": body,
        "kind": kind,
        "prev": prev_hash,
        "seq": seq,
        "ts_ms": ts_ms,
    });
    Ok(sha256_hex(canonical_json(&preimage)?.as_bytes()))
}

/// The bytes a checkpoint signature covers.
pub(crate) fn checkpoint_message(seq: u64, head_hash: &str, ts_ms: i64) -> String {
    format!("warrant-audit-checkpoint/v1\n{seq}\n{head_hash}\n{ts_ms}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn record_hash_matches_the_written_specification() {
        // Spelled out by hand from the crate doc, so a change to the
        // preimage shows up here and not only in the verifier.
        let preimage = r#"{"agent":"a1","body":"{\"x\":1}","kind":"decision","prev":"00","seq":7,"ts_ms":1700000000000}"#;
        assert_eq!(
            record_hash(7, 1_700_000_000_000, "decision", Some("a1"), r#"{"x":1}"#, "00").unwrap(),
            sha256_hex(preimage.as_bytes())
        );
        let no_agent = r#"{"agent":null,"body":"{}","kind":"k","prev":"p","seq":1,"ts_ms":-5}"#;
        assert_eq!(
            record_hash(1, -5, "k", None, "{}", "p").unwrap(),
            sha256_hex(no_agent.as_bytes())
        );
    }

    #[test]
    fn every_column_changes_the_hash() {
        let base = record_hash(2, 10, "k", Some("a"), "{}", "p").unwrap();
        let variants = [
            record_hash(3, 10, "k", Some("a"), "{}", "p"),
            record_hash(2, 11, "k", Some("a"), "{}", "p"),
            record_hash(2, 10, "j", Some("a"), "{}", "p"),
            record_hash(2, 10, "k", None, "{}", "p"),
            record_hash(2, 10, "k", Some("a"), "{\"a\":1}", "p"),
            record_hash(2, 10, "k", Some("a"), "{}", "q"),
        ];
        for variant in variants {
            assert_ne!(variant.unwrap(), base);
        }
    }

    #[test]
    fn checkpoint_message_has_no_trailing_newline() {
        assert_eq!(checkpoint_message(3, "ab", 9), "warrant-audit-checkpoint/v1\n3\nab\n9");
        assert_eq!(GENESIS_HASH.len(), 64);
    }
}
