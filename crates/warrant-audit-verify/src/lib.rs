//! Reading and verifying Warrant audit logs, independently of the writer.
//!
//! [`verify`] opens a log read-only and checks, with nothing but the
//! gateway's public key, that its hash chain is intact and that every
//! checkpoint is signed by that key and seals a record that still exists
//! with the hash it had. [`read_records`] reads records back for `warrant
//! audit tail` and `warrant audit export`. [`verify_with_witness`] also
//! checks the log against a witness kept outside it, which detects a cut or
//! replaced log (see below); [`verify_declared`] finds that witness where
//! the log itself says it is. [`Verified`] and [`Failed`] word the outcome
//! for `warrant audit verify`: sentences, and JSON with stable field names.
//!
//! This crate deliberately does not depend on `warrant-audit`: it
//! re-implements the format below from this text, so that a bug in the
//! writer's hashing cannot vouch for itself. It never writes to a log, holds
//! no signing key and does not ship records anywhere. What it shares with
//! the writer's callers is `warrant-audit-events`, the type of each kind's
//! body (types only: no I/O, no hashing, no signing), so that it can check
//! every body against its kind's shape; a wrong type would be wrong for
//! both, and only that check rests on shared code.
//!
//! # Format `warrant-audit/v1`
//!
//! One SQLite database in WAL mode with three tables (created if missing):
//!
//! ```sql
//! records(seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,
//!         agent TEXT, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
//! checkpoints(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, head_hash TEXT NOT NULL,
//!             ts_ms INTEGER NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL)
//! meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)   -- format = "warrant-audit/v1"
//! ```
//!
//! - `seq` starts at 1 and is contiguous; `ts_ms` is Unix milliseconds taken
//!   by the writer when it writes the record; `kind` is the snake_case event
//!   kind; `agent` is the agent id or NULL.
//! - `body` is the canonical JSON (`warrant_core::canonical_json`: keys sorted
//!   by UTF-8 bytes, no whitespace) of the event's detail object.
//! - `hash` is the lowercase hex SHA-256 of the canonical JSON of
//!   `{"agent": <string or null>, "body": <the body TEXT as a JSON string>,
//!   "kind": <kind>, "prev": <prev_hash>, "seq": <seq>, "ts_ms": <ts_ms>}`.
//! - `prev_hash` is the previous record's `hash`; for seq 1 it is 64 zeros.
//! - A checkpoint seals the chain up to `seq`, whose record hash is
//!   `head_hash`. `signature` is the lowercase hex Ed25519 signature over the
//!   UTF-8 bytes `warrant-audit-checkpoint/v1\n{seq}\n{head_hash}\n{ts_ms}`
//!   (decimal integers, no trailing newline); `public_key` is the lowercase hex
//!   of the 32-byte verifying key.
//! - A record of kind `audit_witness` (agent NULL) is the writer's witness
//!   declaration, written when it opens the log unless the latest one
//!   already says the same: its body is the canonical JSON of `{"path":
//!   <absolute path of the witness file, or null>, "required": <bool>,
//!   "written": <bool>}`, and it means that from this record on every
//!   checkpoint of that writer is appended to `path` (which already holds
//!   the log's latest earlier checkpoint), if `written`. A log created by a
//!   version that writes declarations starts with one at seq 1. `meta` may
//!   hold `witness_declaration`, the writer's unsigned pointer to the latest
//!   declaration; the verifier ignores it.
//!
//! - Every other record's `kind` is an event kind of `warrant-audit-events`
//!   and its `body` that kind's shape ([`Record::event`] reads it so).
//!   [`verify`] reports the first record that is not
//!   ([`VerifyError::Malformed`]), after every other check: its chain
//!   holds, so a writer that does not keep to the types wrote it (another
//!   version, or a caller not yet moved to them), or it was appended after
//!   the last checkpoint, or with the key.
//!
//! # What verification proves, and what it cannot
//!
//! Every record up to the last checkpoint is proven unchanged: an edited,
//! deleted, inserted or reordered record breaks the chain or a signed
//! checkpoint, and truncating the log back past a checkpoint leaves that
//! checkpoint pointing at a record that is gone. The first bad record is
//! named by its seq.
//!
//! Records after the last checkpoint are checked for chain consistency but
//! are not signed, and are reported as `unsealed_records`. From the log
//! alone, truncating them, appending well-formed records after them,
//! deleting records together with every checkpoint that seals them, and
//! replacing the database together with its public key are undetectable.
//!
//! # Witness
//!
//! The writer also appends every checkpoint to a witness outside the log:
//! one line per checkpoint, the canonical JSON (keys sorted, no whitespace)
//! of `{"head_hash", "public_key", "seq", "signature", "ts_ms"}`, the row's
//! own columns. By default the witness of `<parent>/<home>/audit.db` is
//! `<parent>/<home>-witness.jsonl` ([`default_witness_path`]).
//! [`verify_with_witness`] pins a key (given, or the first line's), refuses
//! a log whose key is not that key (replacement), requires every witnessed
//! seq in the log with the witnessed head hash (the chain then vouches for
//! every record before it), and reports a log that ends before the latest
//! witnessed seq, or is empty, as cut. It cannot see records after the
//! latest witnessed checkpoint (`unwitnessed_records`), nor a witness that
//! was itself cut or rewritten by whoever could write it.
//!
//! [`verify_declared`] is the check without a witness named by the
//! operator. It reads the log's declarations (the latest sealed one and every
//! later one bind; an unsealed "not written" releases nothing), and fails if
//! a witness declared as written is missing, empty while the log has
//! checkpoints, or ends before the log's latest checkpoint, or if the log is
//! empty; it also checks the default witness if that exists. A log with no
//! declaration is verified on its own, with the default witness if there is
//! one. What it cannot detect: a log cut back to before its first
//! declaration, which looks like a log written before declarations existed
//! (only possible for logs that have records from such a version, since a
//! newer log starts with its declaration); a witness cut back together with
//! the log to the same checkpoint, or rewritten to match; a log deleted with
//! its witness, after which the next writer starts a new one; and anything
//! done with the signing key (`keys/audit.key`), which can seal a history
//! that declares no witness. Only a witness and key kept where the attacker
//! cannot write catch those.

mod declared;
mod format;
mod read;
mod shape;
mod summary;
mod verify;
mod witness;

pub use declared::{CheckedWitness, DeclaredReport, verify_declared};
pub use read::{Record, head_seq, read_records};
pub use summary::{
    Failed, FailureSummary, LogSummary, MissingReason, MissingWitness, Verified, WitnessSummary,
};
pub use verify::{
    VerifyReport, WitnessDeclaration, WitnessReport, latest_checkpoint, verify, verify_with_witness,
};
pub use witness::{Witness, WitnessEntry, WitnessError, default_witness_path, read_public_key};

use std::path::PathBuf;

/// A log could not be read, or is not intact.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot open audit log `{}`: {source}", .path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("audit log `{}` is not a warrant-audit/v1 log: {reason}", .path.display())]
    Format { path: PathBuf, reason: String },
    #[error("cannot read audit log `{}`: {source}", .path.display())]
    Read { path: PathBuf, source: rusqlite::Error },
    #[error("the expected public key is not a valid ed25519 key")]
    PublicKey,
    #[error("audit record {seq} is not as written: {reason}")]
    Tampered { seq: u64, reason: String },
    #[error("audit checkpoint {id} is invalid: {reason}")]
    BadCheckpoint { id: i64, reason: String },
    #[error(
        "the log's public key `{log_key}` is not the witnessed `{witnessed_key}`: the log was \
         replaced together with its key"
    )]
    KeyReplaced { log_key: String, witnessed_key: String },
    #[error(
        "the log ends at seq {log_seq} but the witness holds a checkpoint of seq \
         {witnessed_seq}: records were cut from the log"
    )]
    Shrunken { log_seq: u64, witnessed_seq: u64 },
    #[error(
        "the witness holds no checkpoint but the log has {checkpoints}: the witness was emptied, \
         or belongs to another log"
    )]
    Unwitnessed { checkpoints: u64 },
    #[error(
        "the log says (record {seq}) that its checkpoints are copied to the witness `{}`, but \
         that file is gone: the witness was removed",
        .path.display()
    )]
    WitnessRemoved { path: PathBuf, seq: u64 },
    #[error(
        "the witness `{}` ends at the checkpoint of seq {witnessed_seq}, but the log, which says \
         (record {declared_at}) that every checkpoint is copied there, holds one of seq \
         {checkpoint_seq}: the witness was cut (or its writer failed or was stopped between the \
         two; run the verification again)",
        .path.display()
    )]
    WitnessBehind { path: PathBuf, declared_at: u64, witnessed_seq: u64, checkpoint_seq: u64 },
    #[error("witness `{}`: {source}", .path.display())]
    Witness { path: PathBuf, source: WitnessError },
    #[error(
        "the audit log holds no record, but every log this version writes starts with its \
         witness declaration: it was emptied (or created by an older version and never written \
         since)"
    )]
    Emptied,
    #[error(
        "audit record {seq} is not a well-formed `{kind}` record: {reason} (its chain holds: a \
         writer that does not keep to the record types wrote it so, or it was appended after the \
         last checkpoint or with the audit key)"
    )]
    Malformed { seq: u64, kind: String, reason: String },
}
