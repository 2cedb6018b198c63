//! Walking the chain and checking the checkpoints.
//!
//! Order of checks: every checkpoint's key and signature first (a forged
//! checkpoint is reported before anything it might claim), then the records
//! in seq order, each against its predecessor, its own contents and any
//! checkpoint that seals it, and any witnessed checkpoint of its seq, and
//! then the checkpoints, then the witnessed ones, that point past the end.
//! The first record whose body is not its kind's shape (`shape.rs`) is
//! reported last of all, once every other check holds.

use crate::VerifyError;
use crate::format::{
    DeclarationBody, GENESIS_HASH, WITNESS_KIND, checkpoint_message, open_v1, record_hash,
};
use crate::shape::{Malformed, refuse, shape_problem};
use crate::witness::{Witness, WitnessEntry, check_entry};
use ed25519_dalek::{Signature, VerifyingKey};
use rusqlite::{Connection, Row};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records in the log, all chained correctly.
    pub records: u64,
    /// Checkpoints, all validly signed by the expected key.
    pub checkpoints: u64,
    /// The highest seq a checkpoint seals.
    pub last_checkpoint_seq: Option<u64>,
    /// The hash of the last record.
    pub head_hash: Option<String>,
    /// Records after the last checkpoint: chained but not signed, so their
    /// truncation would not be detected.
    pub unsealed_records: u64,
    /// Every `audit_witness` record, in seq order: where the writers said
    /// their witness was (see [`crate::verify_declared`]).
    pub witness_declarations: Vec<WitnessDeclaration>,
}

/// One `audit_witness` record: from `seq` on, the writer that wrote it
/// copied every checkpoint to `path`, if `written`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessDeclaration {
    pub seq: u64,
    pub ts_ms: i64,
    /// The witness file (absolute when the writer wrote it); `None` when
    /// the log had no place for a default witness.
    pub path: Option<PathBuf>,
    /// The operator set the path, and the writer required it.
    pub required: bool,
    /// The writer could create or append to the file when it opened the log.
    pub written: bool,
}

struct CheckpointRow {
    id: i64,
    seq: u64,
    head_hash: String,
}

/// Verifies the log at `path` against the gateway's Ed25519 `public_key`.
/// Opens the database read-only; a live writer may keep appending, and the
/// report describes one consistent snapshot.
pub fn verify(path: &Path, public_key: &[u8; 32]) -> Result<VerifyReport, VerifyError> {
    let (report, malformed) = verify_chain(path, public_key)?;
    refuse(malformed)?;
    Ok(report)
}

/// [`verify`] without the last check: the first malformed record, if any,
/// is returned with the report instead of refused.
pub(crate) fn verify_chain(
    path: &Path,
    public_key: &[u8; 32],
) -> Result<(VerifyReport, Option<Malformed>), VerifyError> {
    walk(path, public_key, &BTreeMap::new())
}

/// What checking a log against a witness established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessReport {
    /// The log on its own, verified with the witnessed key.
    pub log: VerifyReport,
    /// The highest seq the witness holds a checkpoint of (all found in the
    /// log with their head hashes).
    pub witnessed_seq: Option<u64>,
    /// Checkpoint lines in the witness.
    pub witness_lines: usize,
    /// Records after the latest witnessed checkpoint: their removal is not
    /// detected by this witness.
    pub unwitnessed_records: u64,
    /// An unparsable last line without a newline was skipped.
    pub torn_tail: bool,
}

/// Verifies the log at `path` as [`verify`] does, against a witness kept
/// outside it: `log_key` (the key the log's home offers, `keys/audit.pub`)
/// must be the witness's pinned key, which then verifies the log; every
/// witnessed checkpoint's seq must still be in the log with the witnessed
/// head hash; and a log that ends before the latest witnessed checkpoint,
/// or is empty, is reported as cut. An empty witness is accepted only for a
/// log that has no checkpoint either.
pub fn verify_with_witness(
    path: &Path,
    witness: &Witness,
    log_key: &[u8; 32],
) -> Result<WitnessReport, VerifyError> {
    let (report, malformed) = check_with_witness(path, witness, log_key)?;
    refuse(malformed)?;
    Ok(report)
}

/// [`verify_with_witness`] without the last check, as [`verify_chain`].
pub(crate) fn check_with_witness(
    path: &Path,
    witness: &Witness,
    log_key: &[u8; 32],
) -> Result<(WitnessReport, Option<Malformed>), VerifyError> {
    let key = witness.public_key().unwrap_or(log_key);
    if key != log_key {
        return Err(VerifyError::KeyReplaced {
            log_key: hex::encode(log_key),
            witnessed_key: hex::encode(key),
        });
    }
    let (log, malformed) = walk(path, key, witness.heads())?;
    let witnessed_seq = witness.latest().map(|entry| entry.seq);
    if witnessed_seq.is_none() && log.checkpoints > 0 {
        return Err(VerifyError::Unwitnessed { checkpoints: log.checkpoints });
    }
    let report = WitnessReport {
        unwitnessed_records: log.records - witnessed_seq.unwrap_or(0),
        witnessed_seq,
        witness_lines: witness.lines(),
        torn_tail: witness.torn_tail(),
        log,
    };
    Ok((report, malformed))
}

/// The log's latest checkpoint as a witness line, once the log's chain and
/// checkpoints verify against `public_key` (a body not of its kind's shape
/// does not keep a checkpoint from being witnessed); `None` when it has no
/// checkpoint yet.
pub fn latest_checkpoint(
    path: &Path,
    public_key: &[u8; 32],
) -> Result<Option<WitnessEntry>, VerifyError> {
    let (report, _) = verify_chain(path, public_key)?;
    let Some(seq) = report.last_checkpoint_seq else { return Ok(None) };
    let conn = open_v1(path)?;
    let read_err = |source| VerifyError::Read { path: path.to_owned(), source };
    let entry = conn
        .query_row(
            "SELECT id, head_hash, ts_ms, public_key, signature FROM checkpoints
             WHERE seq = ?1 ORDER BY id DESC LIMIT 1",
            [i64::try_from(seq).unwrap_or(i64::MAX)],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    WitnessEntry {
                        head_hash: row.get(1)?,
                        public_key: row.get(3)?,
                        seq,
                        signature: row.get(4)?,
                        ts_ms: row.get(2)?,
                    },
                ))
            },
        )
        .map_err(read_err)?;
    // Read after the verification: check it again rather than trust it.
    let (id, entry) = entry;
    check_entry(public_key, &entry, 0)
        .map_err(|err| VerifyError::BadCheckpoint { id, reason: err.to_string() })?;
    Ok(Some(entry))
}

/// The walk behind [`verify`] and [`verify_with_witness`]: `witnessed`
/// holds the head hash each witnessed seq must have.
fn walk(
    path: &Path,
    public_key: &[u8; 32],
    witnessed: &BTreeMap<u64, String>,
) -> Result<(VerifyReport, Option<Malformed>), VerifyError> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| VerifyError::PublicKey)?;
    let conn = open_v1(path)?;
    let read_err = |source| VerifyError::Read { path: path.to_owned(), source };
    // One read transaction: checkpoints and records come from one snapshot.
    conn.execute_batch("BEGIN").map_err(read_err)?;
    let checkpoints = load_checkpoints(&conn, &key, path)?;
    let mut sealing: BTreeMap<u64, Vec<&CheckpointRow>> = BTreeMap::new();
    for checkpoint in &checkpoints {
        sealing.entry(checkpoint.seq).or_default().push(checkpoint);
    }

    let mut stmt = conn
        .prepare("SELECT seq, ts_ms, kind, agent, body, prev_hash, hash FROM records ORDER BY seq")
        .map_err(read_err)?;
    let mut rows = stmt.query([]).map_err(read_err)?;
    let mut last_seq = 0u64;
    let mut head = GENESIS_HASH.to_owned();
    let mut before_head: Option<String> = None;
    let mut witness_declarations = Vec::new();
    let mut malformed = None;
    while let Some(row) = rows.next().map_err(read_err)? {
        let expected = last_seq + 1;
        let record = read_row(row, expected)?;
        if record.seq != expected {
            let reason = if record.seq > expected {
                format!("record is missing (the next record is seq {})", record.seq)
            } else {
                format!("a record has the impossible seq {}", record.seq)
            };
            return Err(VerifyError::Tampered { seq: expected, reason });
        }
        if record.prev_hash != head {
            if before_head.as_deref() == Some(record.prev_hash.as_str()) {
                let reason = format!(
                    "record was inserted: record {} links past it to record {}",
                    record.seq,
                    record.seq.saturating_sub(2)
                );
                return Err(VerifyError::Tampered { seq: record.seq - 1, reason });
            }
            let reason = format!("prev_hash does not match the hash of record {}", record.seq - 1);
            return Err(VerifyError::Tampered { seq: record.seq, reason });
        }
        let recomputed = record_hash(
            record.seq,
            record.ts_ms,
            &record.kind,
            record.agent.as_deref(),
            &record.body,
            &record.prev_hash,
        );
        if recomputed.as_deref() != Some(record.hash.as_str()) {
            let reason = "hash does not match the record's contents".to_owned();
            return Err(VerifyError::Tampered { seq: record.seq, reason });
        }
        for checkpoint in sealing.get(&record.seq).into_iter().flatten() {
            if checkpoint.head_hash != record.hash {
                let reason = format!(
                    "hash differs from the one signed by checkpoint {}: this record, or one \
                     before it since the previous checkpoint, was rewritten",
                    checkpoint.id
                );
                return Err(VerifyError::Tampered { seq: record.seq, reason });
            }
        }
        if let Some(witnessed) = witnessed.get(&record.seq)
            && *witnessed != record.hash
        {
            let reason = "hash differs from the witnessed checkpoint of this seq: the log was \
                          replaced, or rewritten up to here"
                .to_owned();
            return Err(VerifyError::Tampered { seq: record.seq, reason });
        }
        if record.kind == WITNESS_KIND {
            witness_declarations.push(declaration(&record)?);
        } else if malformed.is_none()
            && let Some(reason) = shape_problem(&record.kind, &record.body)
        {
            malformed = Some(Malformed { seq: record.seq, kind: record.kind.clone(), reason });
        }
        before_head = Some(std::mem::replace(&mut head, record.hash));
        last_seq = record.seq;
    }

    let last_checkpoint_seq = checkpoints.iter().map(|c| c.seq).max();
    if let Some(beyond) = checkpoints.iter().find(|c| c.seq > last_seq) {
        let reason = format!(
            "record is missing: checkpoint {} seals seq {} but the log ends at seq {last_seq}",
            beyond.id, beyond.seq
        );
        return Err(VerifyError::Tampered { seq: last_seq + 1, reason });
    }
    if let Some((&witnessed_seq, _)) = witnessed.last_key_value()
        && witnessed_seq > last_seq
    {
        return Err(VerifyError::Shrunken { log_seq: last_seq, witnessed_seq });
    }
    let report = VerifyReport {
        records: last_seq,
        checkpoints: checkpoints.len() as u64,
        last_checkpoint_seq,
        head_hash: (last_seq > 0).then_some(head),
        unsealed_records: last_seq - last_checkpoint_seq.unwrap_or(0),
        witness_declarations,
    };
    Ok((report, malformed))
}

/// Reads a chained `audit_witness` record. The writer writes no other
/// shape, so one that does not parse was forged (after the last checkpoint,
/// or with the key) and is refused rather than skipped.
fn declaration(record: &RawRecord) -> Result<WitnessDeclaration, VerifyError> {
    let forged = |reason: String| VerifyError::Tampered { seq: record.seq, reason };
    let body: DeclarationBody = serde_json::from_str(&record.body)
        .map_err(|err| forged(format!("witness declaration is not readable: {err}")))?;
    if body.written && body.path.is_none() {
        return Err(forged("witness declaration says written but names no file".to_owned()));
    }
    Ok(WitnessDeclaration {
        seq: record.seq,
        ts_ms: record.ts_ms,
        path: body.path.map(PathBuf::from),
        required: body.required,
        written: body.written,
    })
}

/// Loads every checkpoint, refusing any not signed by `key`.
fn load_checkpoints(
    conn: &Connection,
    key: &VerifyingKey,
    path: &Path,
) -> Result<Vec<CheckpointRow>, VerifyError> {
    let read_err = |source| VerifyError::Read { path: path.to_owned(), source };
    let expected_key = hex::encode(key.as_bytes());
    let mut stmt = conn
        .prepare(
            "SELECT id, seq, head_hash, ts_ms, public_key, signature FROM checkpoints ORDER BY id",
        )
        .map_err(read_err)?;
    let mut rows = stmt.query([]).map_err(read_err)?;
    let mut checkpoints = Vec::new();
    while let Some(row) = rows.next().map_err(read_err)? {
        let id: i64 = row.get(0).map_err(read_err)?;
        let bad = |reason: String| VerifyError::BadCheckpoint { id, reason };
        let column = |err: rusqlite::Error| bad(format!("unreadable column: {err}"));
        let seq: i64 = row.get(1).map_err(column)?;
        let head_hash: String = row.get(2).map_err(column)?;
        let ts_ms: i64 = row.get(3).map_err(column)?;
        let public_key: String = row.get(4).map_err(column)?;
        let signature: String = row.get(5).map_err(column)?;
        let seq = u64::try_from(seq)
            .ok()
            .filter(|seq| *seq > 0)
            .ok_or_else(|| bad(format!("seals the impossible seq {seq}")))?;
        if public_key != expected_key {
            return Err(bad(format!(
                "signed by public key `{public_key}`, not the expected `{expected_key}`"
            )));
        }
        let signature = hex::decode(&signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(|| bad("signature is not 64 hex-encoded bytes".to_owned()))?;
        key.verify_strict(checkpoint_message(seq, &head_hash, ts_ms).as_bytes(), &signature)
            .map_err(|_| bad("signature does not verify".to_owned()))?;
        checkpoints.push(CheckpointRow { id, seq, head_hash });
    }
    Ok(checkpoints)
}

struct RawRecord {
    seq: u64,
    ts_ms: i64,
    kind: String,
    agent: Option<String>,
    body: String,
    prev_hash: String,
    hash: String,
}

/// A column of the wrong type is tampering with the record at `expected`.
fn read_row(row: &Row<'_>, expected: u64) -> Result<RawRecord, VerifyError> {
    let tampered = |err: rusqlite::Error| VerifyError::Tampered {
        seq: expected,
        reason: format!("unreadable column: {err}"),
    };
    let seq: i64 = row.get(0).map_err(tampered)?;
    Ok(RawRecord {
        // Negative seqs sort first and are reported as out of place.
        seq: u64::try_from(seq).unwrap_or(0),
        ts_ms: row.get(1).map_err(tampered)?,
        kind: row.get(2).map_err(tampered)?,
        agent: row.get(3).map_err(tampered)?,
        body: row.get(4).map_err(tampered)?,
        prev_hash: row.get(5).map_err(tampered)?,
        hash: row.get(6).map_err(tampered)?,
    })
}
