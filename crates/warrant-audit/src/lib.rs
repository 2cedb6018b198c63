//! Warrant's audit log writer.
//!
//! Every authentication failure, decision, approval and result is appended
//! here *before* the action it records happens: [`AuditLog::append`] returns
//! only once the record is committed, and a caller whose append failed must
//! not act (fail closed). Records are hash-chained and periodically sealed by
//! Ed25519-signed checkpoints, so that an offline verifier holding only the
//! public key can tell whether the log was edited afterwards.
//!
//! This crate deliberately does not verify logs, read them back for export,
//! or ship them anywhere: that is `warrant-audit-verify`, which re-implements
//! the format below from this text rather than depending on this crate, so a
//! bug in the writer cannot hide itself from the verifier.
//!
//! What each kind's body holds is defined once, in `warrant-audit-events`
//! (one serde type per [`EventKind`], re-exported here as [`events`]).
//! Callers record typed bodies: through [`AuditLog::append_body`], or as an
//! [`AuditEvent`] made by [`AuditEvent::of`] and handed to
//! [`AuditLog::append`]. Only [`AuditEvent::danger_untyped`] takes any
//! object, for tests that write a malformed log on purpose; the verifier
//! reports a body that is not its kind's shape. Beyond the types, the writer offers [`redact_arguments`],
//! the default treatment of tool arguments.
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
//!
//! - `meta` may also hold `witness_declaration`, the seq of the latest
//!   witness declaration (below). It is a hint for the writer, not evidence:
//!   nothing in `meta` is signed.
//!
//! Checkpoints are written every `checkpoint_every_records` records, every
//! `checkpoint_every` while there are unsealed records, on
//! [`AuditLog::checkpoint`] and on [`AuditLog::close`].
//!
//! Every checkpoint is also appended to a witness outside the log (a JSONL
//! file, and the local syslog); the line format and where it goes are in
//! `witness.rs` and [`default_witness_path`]. [`AuditLog::close`] seals:
//! its final checkpoint goes to the log and to the witness.
//!
//! ## The witness declaration
//!
//! The log says, in its own chain, where its witness is. When it opens the
//! log, after creating or catching up the witness file, the writer appends a
//! record of kind `audit_witness` (agent NULL) whose body is the canonical
//! JSON of `{"path": <absolute path of the witness file, or null>,
//! "required": <true when the caller set the path>, "written": <true when
//! the file could be created or appended to>}`, unless the declaration
//! `meta.witness_declaration` points to has exactly this body. It means:
//! from this record on, every checkpoint this writer commits is appended to
//! `path` (which already holds the log's latest earlier checkpoint). Opening
//! a log writes one, so a log created by this version starts with its
//! declaration at seq 1. `audit_witness` is no [`EventKind`]: no caller can
//! write one.
//!
//! # What the chain does not prove
//!
//! Records after the last checkpoint are chained but not signed: deleting them
//! (truncating the tail), or appending well-formed records after them, cannot
//! be detected from the log alone. Deleting records together with the
//! checkpoints that seal them, or replacing the database and its public key,
//! is detected only against the witness; records after the latest witnessed
//! checkpoint are not protected by it, and neither is anything if the
//! attacker can also rewrite the witness. The witness declaration makes a
//! removed, emptied or cut witness detectable as long as the declaration is
//! still in the log; it does not help against a log cut back to before its
//! first declaration (only a log written by an older version has records
//! there), a witness cut back together with the log to the same checkpoint,
//! or anyone holding the signing key, who can write and seal any history.
//! The database file is created with mode 0600; that keeps agents running as
//! other users out, not a process running as the gateway's own user.

mod event;
mod format;
mod group;
mod log;
mod redact;
mod witness;
mod writer;

pub use event::{AuditEvent, Checkpoint, RecordRef};
pub use log::{AuditError, AuditLog, AuditOptions, Durability};
pub use redact::redact_arguments;
/// The body types, one per [`EventKind`]: what callers record.
pub use warrant_audit_events as events;
pub use warrant_audit_events::{Body, Event, EventKind};
pub use witness::{DEFAULT_SYSLOG_SOCKET, default_witness_path};

/// The value of `meta.format` this crate writes and accepts.
pub const FORMAT: &str = format::FORMAT;
