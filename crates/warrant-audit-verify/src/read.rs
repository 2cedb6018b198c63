//! Reading records back, for `warrant audit tail` and `warrant audit export`.
//! Reading does not verify; run [`crate::verify`] for that.

use crate::VerifyError;
use crate::format::open_v1;
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use warrant_audit_events::{Event, EventKind, ParseError};
use warrant_core::UnixMillis;

/// One record as stored, with its body parsed. Serialises as one JSONL line
/// of an export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub seq: u64,
    /// `ts_ms` as RFC 3339 UTC, for people and SIEMs.
    pub time: String,
    pub ts_ms: i64,
    pub kind: String,
    pub agent: Option<String>,
    pub body: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    /// The body read as its kind's type (`warrant-audit-events`), for an
    /// exporter that maps fields rather than copying JSON. `Err` for the
    /// writer's own `audit_witness` records, for kinds this version does not
    /// know, and for bodies not of their kind's shape (which [`crate::verify`]
    /// reports).
    pub fn event(&self) -> Result<Event, ParseError> {
        let kind = EventKind::parse(&self.kind)
            .ok_or_else(|| ParseError::UnknownKind { kind: self.kind.clone() })?;
        Event::from_value(kind, self.body.clone())
    }
}

/// Up to `limit` records with seq greater than `after_seq`, in seq order.
pub fn read_records(path: &Path, after_seq: u64, limit: usize) -> Result<Vec<Record>, VerifyError> {
    let conn = open_v1(path)?;
    let read_err = |source| VerifyError::Read { path: path.to_owned(), source };
    let mut stmt = conn
        .prepare(
            "SELECT seq, ts_ms, kind, agent, body, prev_hash, hash FROM records
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(read_err)?;
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query([after, limit]).map_err(read_err)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(read_err)? {
        let seq: i64 = row.get(0).map_err(read_err)?;
        let seq = u64::try_from(seq).unwrap_or(0);
        let corrupt = |reason: String| VerifyError::Tampered { seq, reason };
        let column = |err: rusqlite::Error| corrupt(format!("unreadable column: {err}"));
        let ts_ms: i64 = row.get(1).map_err(column)?;
        let body: String = row.get(4).map_err(column)?;
        let body = serde_json::from_str(&body)
            .map_err(|err| corrupt(format!("body is not json: {err}")))?;
        records.push(Record {
            seq,
            time: UnixMillis(ts_ms).to_rfc3339(),
            ts_ms,
            kind: row.get(2).map_err(column)?,
            agent: row.get(3).map_err(column)?,
            body,
            prev_hash: row.get(5).map_err(column)?,
            hash: row.get(6).map_err(column)?,
        });
    }
    Ok(records)
}

/// The seq of the last record, if any; `read_records(path, head - n, n)`
/// then gives the last `n` records.
pub fn head_seq(path: &Path) -> Result<Option<u64>, VerifyError> {
    let conn = open_v1(path)?;
    let seq: Option<i64> = conn
        .query_row("SELECT max(seq) FROM records", [], |row| row.get(0))
        .optional()
        .map_err(|source| VerifyError::Read { path: path.to_owned(), source })?
        .flatten();
    Ok(seq.and_then(|seq| u64::try_from(seq).ok()))
}
