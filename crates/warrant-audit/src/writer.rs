//! The writer: the only holder of the connection, behind a mutex.
//!
//! Appends are committed by the callers themselves, in groups (see
//! `group.rs`): there is no thread hop on the append path. The writer thread
//! only writes checkpoints, periodically and on request, and closes the log.
//! After any database failure the writer refuses every later append: the
//! chain head it holds may no longer match the file, and a caller must never
//! be told a record exists when it might not.

use crate::event::{AuditEvent, Checkpoint, RecordRef};
use crate::format::{WITNESS_HINT_KEY, WITNESS_KIND, checkpoint_message, record_hash};
use crate::group::{Group, LINGER};
use crate::log::{AuditError, AuditOptions};
use crate::witness::Witness;
use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use warrant_core::{UnixMillis, canonical_json};

/// How long the writer sleeps when nothing is waiting to be sealed.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

pub(crate) enum Command {
    Checkpoint {
        reply: Reply<Option<Checkpoint>>,
    },
    Close {
        reply: Reply<()>,
    },
    /// Records linger, queued by appenders that did not wait (see
    /// `AuditLog::append_queued`): write them after `LINGER` unless a group
    /// has taken them.
    Linger,
}

/// Where an answer goes: a std channel, read by the leader of a group or a
/// blocked caller. (Tokio's `blocking_recv` panics inside a runtime, even in
/// `spawn_blocking`, so blocking paths use std channels.)
pub(crate) struct Reply<T>(pub(crate) SyncSender<Result<T, AuditError>>);

impl<T> Reply<T> {
    fn send(self, result: Result<T, AuditError>) {
        // A caller that stopped waiting is not an error for the writer.
        let _ = self.0.send(result);
    }
}

/// The last committed record.
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
}

pub(crate) struct Writer {
    conn: Connection,
    signer: SigningKey,
    public_key: String,
    options: AuditOptions,
    head: Head,
    /// The seq the last checkpoint sealed.
    sealed_seq: u64,
    last_checkpoint_at: Instant,
    /// Where each checkpoint is copied after its commit.
    witness: Witness,
    /// Set by the first database or required-witness failure; every later
    /// write is refused.
    failed: Option<String>,
    /// Set once a close was handled; every later append is refused.
    pub(crate) closed: bool,
}

struct Row {
    seq: u64,
    ts_ms: i64,
    kind: &'static str,
    agent: Option<String>,
    body: String,
    prev_hash: String,
    hash: String,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        signer: SigningKey,
        options: AuditOptions,
        head: Head,
        sealed_seq: u64,
        witness: Witness,
    ) -> Self {
        let public_key = hex::encode(signer.verifying_key().as_bytes());
        let last_checkpoint_at = Instant::now();
        Self {
            conn,
            signer,
            public_key,
            options,
            head,
            sealed_seq,
            last_checkpoint_at,
            witness,
            failed: None,
            closed: false,
        }
    }

    /// Appends the witness declaration (`audit_witness`, see `witness.rs`)
    /// unless the latest one, as `meta.witness_declaration` points to it,
    /// already says the same. Called once, when the log is opened, before
    /// any other record of this writer: so the chain says where every later
    /// checkpoint is copied, and a home's first record is its declaration.
    pub(crate) fn declare_witness(&mut self) -> rusqlite::Result<()> {
        let body = canonical_json(&self.witness.declaration())
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if latest_declaration(&tx)?.as_deref() == Some(body.as_str()) {
            return tx.commit();
        }
        let declaration =
            Prepared { ts_ms: UnixMillis::now().0, kind: WITNESS_KIND, agent: None, body };
        let rows = append_rows(&tx, vec![declaration])?;
        if let Some(row) = rows.last() {
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                params![WITNESS_HINT_KEY, row.seq.to_string()],
            )?;
        }
        tx.commit()?;
        if let Some(row) = rows.last() {
            self.head = Head { seq: row.seq, hash: row.hash.clone() };
        }
        Ok(())
    }

    /// Handles one batch in order; true once a close was handled.
    /// Writes `appends` in one transaction, then answers each.
    pub(crate) fn commit(&mut self, appends: Vec<(AuditEvent, Reply<RecordRef>)>) {
        if appends.is_empty() {
            return;
        }
        if let Some(reason) = &self.failed {
            for (_, reply) in appends {
                reply.send(Err(AuditError::Failed { reason: reason.clone() }));
            }
            return;
        }
        // Bodies are checked before the transaction: a bad event is the
        // caller's problem, not the log's.
        let mut prepared = Vec::with_capacity(appends.len());
        let mut replies = Vec::with_capacity(appends.len());
        for (event, reply) in appends {
            match prepare(event) {
                Ok(p) => {
                    prepared.push(p);
                    replies.push(reply);
                }
                Err(err) => reply.send(Err(err)),
            }
        }
        if prepared.is_empty() {
            return;
        }
        match self.write(prepared) {
            Ok((rows, sealed)) => {
                if let Some(last) = rows.last() {
                    self.head = Head { seq: last.seq, hash: last.hash.clone() };
                }
                // These records are committed whatever the witness does;
                // a failed copy refuses the records after them.
                if let Some(checkpoint) = sealed {
                    self.sealed(checkpoint.seq);
                    if let Err(err) = self.witness.record(&checkpoint) {
                        self.fail_with(err.to_string());
                    }
                }
                for (row, reply) in rows.into_iter().zip(replies) {
                    reply.send(Ok(RecordRef { seq: row.seq, hash: row.hash }));
                }
            }
            Err(err) => {
                let reason = self.fail(&err);
                for reply in replies {
                    reply.send(Err(AuditError::Write { reason: reason.clone() }));
                }
            }
        }
    }

    /// Appends `prepared` in one IMMEDIATE transaction (see [`append_rows`]),
    /// and seals it when enough records are unsealed.
    fn write(
        &mut self,
        prepared: Vec<Prepared>,
    ) -> rusqlite::Result<(Vec<Row>, Option<Checkpoint>)> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = append_rows(&tx, prepared)?;
        let seq = rows.last().map_or(0, |row| row.seq);
        let seal = self.options.checkpoint_every_records > 0
            && seq.saturating_sub(self.sealed_seq) >= self.options.checkpoint_every_records;
        let mut sealed = None;
        if seal && let Some(last) = rows.last() {
            sealed =
                Some(insert_checkpoint(&tx, &self.signer, &self.public_key, last.seq, &last.hash)?);
        }
        tx.commit()?;
        Ok((rows, sealed))
    }

    /// Seals the head if anything is unsealed.
    fn checkpoint_now(&mut self) -> Result<Option<Checkpoint>, AuditError> {
        if let Some(reason) = &self.failed {
            return Err(AuditError::Failed { reason: reason.clone() });
        }
        if self.head.seq == self.sealed_seq {
            return Ok(None);
        }
        // Seal the head as the file has it: another process may have
        // appended since this writer last did.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate);
        let written = tx.and_then(|tx| {
            let head = crate::log::load_head(&tx)?;
            let checkpoint =
                insert_checkpoint(&tx, &self.signer, &self.public_key, head.seq, &head.hash)?;
            tx.commit().map(|()| checkpoint)
        });
        match written {
            Ok(checkpoint) => {
                self.sealed(checkpoint.seq);
                // Copied after the commit: a witness never names a
                // checkpoint the log does not hold.
                if let Err(err) = self.witness.record(&checkpoint) {
                    self.fail_with(err.to_string());
                    return Err(err);
                }
                Ok(Some(checkpoint))
            }
            Err(err) => Err(AuditError::Write { reason: self.fail(&err) }),
        }
    }

    fn checkpoint_if_due(&mut self) {
        if self.failed.is_none()
            && self.head.seq > self.sealed_seq
            && self.last_checkpoint_at.elapsed() >= self.options.checkpoint_every
            && let Err(err) = self.checkpoint_now()
        {
            tracing::error!(error = %err, "periodic audit checkpoint failed");
        }
    }

    fn time_to_checkpoint(&self) -> Duration {
        if self.failed.is_some() {
            return IDLE_WAIT;
        }
        // Appends committed on callers' threads do not wake the writer
        // thread, so an idle log is looked at once per checkpoint period.
        if self.head.seq == self.sealed_seq {
            return self.options.checkpoint_every;
        }
        self.options.checkpoint_every.saturating_sub(self.last_checkpoint_at.elapsed())
    }

    fn sealed(&mut self, seq: u64) {
        self.sealed_seq = seq;
        self.last_checkpoint_at = Instant::now();
    }

    fn fail(&mut self, err: &rusqlite::Error) -> String {
        self.fail_with(err.to_string())
    }

    fn fail_with(&mut self, reason: String) -> String {
        tracing::error!(error = %reason, "audit log write failed; refusing further records");
        self.failed = Some(reason.clone());
        reason
    }
}

/// The writer thread: checkpoints on request and periodically. Runs until
/// closed, or until every handle is dropped; either way the last act is a
/// checkpoint of whatever is unsealed.
pub(crate) fn run(group: &Group, writer: &Mutex<Writer>, commands: &Receiver<Command>) {
    // When what lingers is to be written, if a group has not taken it.
    let mut flush_at: Option<Instant> = None;
    loop {
        let mut wait = lock(writer).time_to_checkpoint();
        if let Some(at) = flush_at {
            wait = wait.min(at.saturating_duration_since(Instant::now()));
        }
        let command = match commands.recv_timeout(wait) {
            Ok(command) => Some(command),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                group.flush();
                let _ = lock(writer).checkpoint_now();
                return;
            }
        };
        match command {
            None => {}
            Some(Command::Checkpoint { reply }) => reply.send(lock(writer).checkpoint_now()),
            Some(Command::Close { reply }) => {
                let mut w = lock(writer);
                reply.send(w.checkpoint_now().map(drop));
                w.closed = true;
                drop(w);
                // Nothing can be queued behind the close command (the handle
                // sends under the same lock it clears), but answer anything
                // that is, rather than leave it hanging.
                while let Ok(command) = commands.try_recv() {
                    refuse(command, || AuditError::Closed);
                }
                return;
            }
            Some(Command::Linger) => {
                flush_at.get_or_insert_with(|| Instant::now() + LINGER);
            }
        }
        if flush_at.is_some_and(|at| at <= Instant::now()) {
            flush_at = None;
            group.flush();
        }
        lock(writer).checkpoint_if_due();
    }
}

/// The writer holds no invariant a panic could break half-way (it never
/// panics; a failed commit sets `failed`), so a poisoned lock is still usable.
pub(crate) fn lock(writer: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An event whose body is canonical and whose time is taken, not yet
/// placed in the chain.
struct Prepared {
    ts_ms: i64,
    kind: &'static str,
    agent: Option<String>,
    body: String,
}

fn prepare(event: AuditEvent) -> Result<Prepared, AuditError> {
    let body = canonical_json(&Value::Object(event.detail)).map_err(AuditError::Body)?;
    Ok(Prepared { ts_ms: UnixMillis::now().0, kind: event.kind.as_str(), agent: event.agent, body })
}

/// Chains `prepared` onto the head as the file has it, inside `tx`. The
/// head is read inside the transaction, not taken from memory, so several
/// processes (the gateway and a CLI command) can append to one log: SQLite's
/// write lock orders them and each extends the head the other committed.
fn append_rows(tx: &Transaction<'_>, prepared: Vec<Prepared>) -> rusqlite::Result<Vec<Row>> {
    let head = crate::log::load_head(tx)?;
    let (mut seq, mut prev_hash) = (head.seq, head.hash);
    let mut rows = Vec::with_capacity(prepared.len());
    for p in prepared {
        seq += 1;
        let hash = record_hash(seq, p.ts_ms, p.kind, p.agent.as_deref(), &p.body, &prev_hash)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let row = Row {
            seq,
            ts_ms: p.ts_ms,
            kind: p.kind,
            agent: p.agent,
            body: p.body,
            prev_hash,
            hash,
        };
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO records(seq, ts_ms, kind, agent, body, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for row in &rows {
        insert.execute(params![
            sql_int(row.seq)?,
            row.ts_ms,
            row.kind,
            row.agent,
            row.body,
            row.prev_hash,
            row.hash
        ])?;
    }
    Ok(rows)
}

/// The body of the declaration `meta.witness_declaration` points to, if it
/// points to one. The pointer spares a scan of the whole log on every open;
/// it is only a hint, so a wrong one costs at most a repeated declaration.
fn latest_declaration(tx: &Transaction<'_>) -> rusqlite::Result<Option<String>> {
    let hint: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [WITNESS_HINT_KEY], |row| row.get(0))
        .optional()?;
    let Some(seq) = hint.and_then(|seq| seq.parse::<i64>().ok()) else { return Ok(None) };
    tx.query_row(
        "SELECT body FROM records WHERE seq = ?1 AND kind = ?2",
        params![seq, WITNESS_KIND],
        |row| row.get(0),
    )
    .optional()
}

fn insert_checkpoint(
    tx: &Transaction<'_>,
    signer: &SigningKey,
    public_key: &str,
    seq: u64,
    head_hash: &str,
) -> rusqlite::Result<Checkpoint> {
    let ts_ms = UnixMillis::now().0;
    let signature =
        hex::encode(signer.sign(checkpoint_message(seq, head_hash, ts_ms).as_bytes()).to_bytes());
    tx.execute(
        "INSERT INTO checkpoints(seq, head_hash, ts_ms, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sql_int(seq)?, head_hash, ts_ms, public_key, signature],
    )?;
    Ok(Checkpoint {
        id: tx.last_insert_rowid(),
        seq,
        head_hash: head_hash.to_owned(),
        ts_ms,
        public_key: public_key.to_owned(),
        signature,
    })
}

/// SQLite integers are signed; a seq past `i64::MAX` is a write error, not a
/// wrap-around.
fn sql_int(value: u64) -> rusqlite::Result<i64> {
    i64::try_from(value).map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

fn refuse(command: Command, err: impl Fn() -> AuditError) {
    match command {
        Command::Checkpoint { reply } => reply.send(Err(err())),
        Command::Close { reply } => reply.send(Err(err())),
        // The close wrote what lingered (`Group::shut`).
        Command::Linger => {}
    }
}
