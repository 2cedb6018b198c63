//! The writer thread: the only owner of the connection.
//!
//! It takes the first queued command, drains whatever else is queued (group
//! commit), writes all queued appends in one transaction and only then
//! replies. After any database failure it refuses every later append: the
//! chain head it holds may no longer match the file, and a caller must never
//! be told a record exists when it might not.

use crate::event::{AuditEvent, Checkpoint, RecordRef};
use crate::format::{checkpoint_message, record_hash};
use crate::log::{AuditError, AuditOptions};
use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{Connection, Transaction, params};
use serde_json::Value;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use warrant_core::{UnixMillis, canonical_json};

/// The most commands handled per wake-up (and so per transaction).
const MAX_BATCH: usize = 512;

/// How long the writer sleeps when nothing is waiting to be sealed.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

pub(crate) enum Command {
    Append { event: AuditEvent, reply: Reply<RecordRef> },
    Checkpoint { reply: Reply<Option<Checkpoint>> },
    Close { reply: Reply<()> },
}

/// Where an answer goes: an async caller's oneshot or a blocking caller's
/// channel. (Tokio's `blocking_recv` panics inside a runtime, even in
/// `spawn_blocking`, so blocking callers get a std channel.)
pub(crate) enum Reply<T> {
    Async(oneshot::Sender<Result<T, AuditError>>),
    Blocking(SyncSender<Result<T, AuditError>>),
}

impl<T> Reply<T> {
    fn send(self, result: Result<T, AuditError>) {
        // A caller that stopped waiting is not an error for the writer.
        let _ = match self {
            Reply::Async(sender) => sender.send(result).map_err(drop),
            Reply::Blocking(sender) => sender.send(result).map_err(drop),
        };
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
    /// Set by the first database failure; every later write is refused.
    failed: Option<String>,
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
            failed: None,
        }
    }

    /// Runs until closed, or until every handle is dropped; either way the
    /// last act is a checkpoint of whatever is unsealed.
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        loop {
            let first = match commands.recv_timeout(self.time_to_checkpoint()) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    self.checkpoint_if_due();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.checkpoint_now();
                    return;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            if self.handle(batch) {
                // Closed. Nothing can be queued behind the close command (the
                // handle sends under the same lock it clears), but answer
                // anything that is, rather than leave it hanging.
                while let Ok(command) = commands.try_recv() {
                    refuse(command, || AuditError::Closed);
                }
                return;
            }
            self.checkpoint_if_due();
        }
    }

    /// Handles one batch in order; true once a close was handled.
    fn handle(&mut self, batch: Vec<Command>) -> bool {
        let mut appends = Vec::new();
        let mut closed = false;
        for command in batch {
            if closed {
                refuse(command, || AuditError::Closed);
                continue;
            }
            match command {
                Command::Append { event, reply } => appends.push((event, reply)),
                Command::Checkpoint { reply } => {
                    self.commit(std::mem::take(&mut appends));
                    reply.send(self.checkpoint_now());
                }
                Command::Close { reply } => {
                    self.commit(std::mem::take(&mut appends));
                    reply.send(self.checkpoint_now().map(drop));
                    closed = true;
                }
            }
        }
        self.commit(appends);
        closed
    }

    /// Writes `appends` in one transaction, then answers each.
    fn commit(&mut self, appends: Vec<(AuditEvent, Reply<RecordRef>)>) {
        if appends.is_empty() {
            return;
        }
        if let Some(reason) = &self.failed {
            for (_, reply) in appends {
                reply.send(Err(AuditError::Failed { reason: reason.clone() }));
            }
            return;
        }
        let mut rows = Vec::with_capacity(appends.len());
        let mut replies = Vec::with_capacity(appends.len());
        let (mut seq, mut prev_hash) = (self.head.seq, self.head.hash.clone());
        for (event, reply) in appends {
            match make_row(event, seq + 1, &prev_hash) {
                Ok(row) => {
                    seq = row.seq;
                    prev_hash.clone_from(&row.hash);
                    rows.push(row);
                    replies.push(reply);
                }
                // A bad event is the caller's problem, not the log's.
                Err(err) => reply.send(Err(err)),
            }
        }
        let seal = !rows.is_empty()
            && self.options.checkpoint_every_records > 0
            && seq.saturating_sub(self.sealed_seq) >= self.options.checkpoint_every_records;
        match self.write(&rows, seal) {
            Ok(()) => {
                self.head = Head { seq, hash: prev_hash };
                if seal {
                    self.sealed(seq);
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

    fn write(&mut self, rows: &[Row], seal: bool) -> rusqlite::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records(seq, ts_ms, kind, agent, body, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for row in rows {
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
        }
        if seal && let Some(last) = rows.last() {
            insert_checkpoint(&tx, &self.signer, &self.public_key, last.seq, &last.hash)?;
        }
        tx.commit()
    }

    /// Seals the head if anything is unsealed.
    fn checkpoint_now(&mut self) -> Result<Option<Checkpoint>, AuditError> {
        if let Some(reason) = &self.failed {
            return Err(AuditError::Failed { reason: reason.clone() });
        }
        if self.head.seq == self.sealed_seq {
            return Ok(None);
        }
        let tx = self.conn.transaction();
        let written = tx.and_then(|tx| {
            let checkpoint = insert_checkpoint(
                &tx,
                &self.signer,
                &self.public_key,
                self.head.seq,
                &self.head.hash,
            )?;
            tx.commit().map(|()| checkpoint)
        });
        match written {
            Ok(checkpoint) => {
                self.sealed(checkpoint.seq);
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
        if self.failed.is_some() || self.head.seq == self.sealed_seq {
            return IDLE_WAIT;
        }
        self.options.checkpoint_every.saturating_sub(self.last_checkpoint_at.elapsed())
    }

    fn sealed(&mut self, seq: u64) {
        self.sealed_seq = seq;
        self.last_checkpoint_at = Instant::now();
    }

    fn fail(&mut self, err: &rusqlite::Error) -> String {
        let reason = err.to_string();
        tracing::error!(error = %reason, "audit log write failed; refusing further records");
        self.failed = Some(reason.clone());
        reason
    }
}

fn make_row(event: AuditEvent, seq: u64, prev_hash: &str) -> Result<Row, AuditError> {
    let body = canonical_json(&Value::Object(event.detail)).map_err(AuditError::Body)?;
    let ts_ms = UnixMillis::now().0;
    let kind = event.kind.as_str();
    let hash = record_hash(seq, ts_ms, kind, event.agent.as_deref(), &body, prev_hash)
        .map_err(AuditError::Body)?;
    Ok(Row { seq, ts_ms, kind, agent: event.agent, body, prev_hash: prev_hash.to_owned(), hash })
}

fn insert_checkpoint(
    tx: &Transaction<'_>,
    signer: &SigningKey,
    public_key: &str,
    seq: u64,
    head_hash: &str,
) -> rusqlite::Result<Checkpoint> {
    let ts_ms = UnixMillis::now().0;
    let signature = signer.sign(checkpoint_message(seq, head_hash, ts_ms).as_bytes());
    tx.execute(
        "INSERT INTO checkpoints(seq, head_hash, ts_ms, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sql_int(seq)?, head_hash, ts_ms, public_key, hex::encode(signature.to_bytes())],
    )?;
    Ok(Checkpoint { id: tx.last_insert_rowid(), seq, head_hash: head_hash.to_owned(), ts_ms })
}

/// SQLite integers are signed; a seq past `i64::MAX` is a write error, not a
/// wrap-around.
fn sql_int(value: u64) -> rusqlite::Result<i64> {
    i64::try_from(value).map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

fn refuse(command: Command, err: impl Fn() -> AuditError) {
    match command {
        Command::Append { reply, .. } => reply.send(Err(err())),
        Command::Checkpoint { reply } => reply.send(Err(err())),
        Command::Close { reply } => reply.send(Err(err())),
    }
}
