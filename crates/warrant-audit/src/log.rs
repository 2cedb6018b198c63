//! The handle callers hold, and opening a log.

use crate::event::{AuditEvent, Checkpoint, RecordRef};
use crate::format::{FORMAT, GENESIS_HASH, SCHEMA};
use crate::group::{Group, Turn, Waiter};
use crate::witness::Witness;
use crate::writer::{Command, Head, Reply, Writer};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;
use warrant_audit_events::Body;
use warrant_core::CanonicalJsonError;

/// WAL pages between SQLite's automatic checkpoints (16 MiB at 4 KiB pages).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4096;

/// How hard a commit works before the append returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a committed record survives the process
    /// being killed (SIGKILL included) but may be lost on power loss or an OS
    /// crash.
    #[default]
    Process,
    /// `synchronous=FULL`: every commit is fsynced, so a committed record also
    /// survives power loss. Much slower per commit; group commit amortises it.
    Power,
}

/// How the log is written and sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    pub durability: Durability,
    /// Write a checkpoint after this many unsealed records (0 disables).
    pub checkpoint_every_records: u64,
    /// Write a checkpoint this long after the last one, if there are unsealed
    /// records.
    pub checkpoint_every: Duration,
    /// The witness file every checkpoint is also appended to (see
    /// `witness.rs`). Set, it is required: the log refuses to open, and
    /// after a failed append refuses further records, if it cannot be
    /// written; a path inside the log's directory is refused. `None` is the
    /// default, [`default_witness_path`](crate::default_witness_path),
    /// written best effort.
    pub witness: Option<PathBuf>,
    /// The syslog socket every witness line is also sent to, best effort.
    /// Default [`DEFAULT_SYSLOG_SOCKET`](crate::DEFAULT_SYSLOG_SOCKET).
    pub syslog: Option<PathBuf>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Process,
            checkpoint_every_records: 1000,
            checkpoint_every: Duration::from_secs(10),
            witness: None,
            syslog: Some(PathBuf::from(crate::witness::DEFAULT_SYSLOG_SOCKET)),
        }
    }
}

/// The audit log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot create audit log `{}`: {source}", .path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot open audit log `{}`: {source}", .path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("audit log `{}` has format `{found}`, this build writes only `{FORMAT}`", .path.display())]
    UnknownFormat { path: PathBuf, found: String },
    #[error(
        "audit log `{}` is sealed with public key `{found}`, not with this signer's `{expected}`",
        .path.display()
    )]
    KeyMismatch { path: PathBuf, expected: String, found: String },
    #[error("cannot write audit witness `{}`: {source}", .path.display())]
    Witness { path: PathBuf, source: std::io::Error },
    #[error(
        "audit witness `{}` is inside the directory of its log `{}`: keep it where whoever \
         can change the log cannot",
        .path.display(), .log.display()
    )]
    WitnessInHome { path: PathBuf, log: PathBuf },
    #[error("cannot start the audit writer thread: {0}")]
    Spawn(std::io::Error),
    #[error("event detail cannot be written as canonical json: {0}")]
    Body(CanonicalJsonError),
    #[error("a `{kind}` body cannot be serialized: {source}")]
    Serialize { kind: &'static str, source: serde_json::Error },
    #[error("a `{kind}` body does not serialize as a json object")]
    NotAnObject { kind: &'static str },
    #[error("audit write failed: {reason}")]
    Write { reason: String },
    #[error("audit log failed earlier and accepts no more records: {reason}")]
    Failed { reason: String },
    #[error("audit log is closed")]
    Closed,
    #[error("audit writer thread stopped unexpectedly")]
    WriterGone,
}

/// An open audit log. Cheap to clone; every clone shares one writer (and its
/// one connection). Appenders commit on their own threads, in groups (one
/// leads, those arriving meanwhile wait and are committed in its next
/// transaction); a background thread writes periodic checkpoints.
///
/// Dropping the last clone without [`close`](Self::close) lets the writer
/// finish the queue, write a final checkpoint and stop in the background.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed. Sends happen under the lock, so nothing can be
    /// queued behind the close command.
    sender: Mutex<Option<Sender<Command>>>,
    /// Appenders commit through this, in groups, on their own threads (and
    /// the writer thread, for appenders that do not wait).
    group: Arc<Group>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl AuditLog {
    /// Opens (or creates, with mode 0600) the log at `path` and starts its
    /// writer thread. The chain continues from the last record on disk.
    ///
    /// Refuses a database whose `meta.format` is not `warrant-audit/v1`, a
    /// non-empty database without one, and a log whose last checkpoint was
    /// signed by another key (its records could never verify as one log).
    pub fn open(
        path: &Path,
        signer: SigningKey,
        options: AuditOptions,
    ) -> Result<Self, AuditError> {
        create_private(path)?;
        let open_err = |source| AuditError::Open { path: path.to_owned(), source };
        let mut conn = Connection::open(path).map_err(open_err)?;
        configure(&conn, options.durability).map_err(open_err)?;
        prepare_schema(&mut conn, path)?;
        let head = load_head(&conn).map_err(open_err)?;
        let public_key = hex::encode(signer.verifying_key().as_bytes());
        let last_checkpoint = load_last_checkpoint(&conn).map_err(open_err)?;
        let sealed_seq = match &last_checkpoint {
            Some(found) if found.public_key != public_key => {
                return Err(AuditError::KeyMismatch {
                    path: path.to_owned(),
                    expected: public_key,
                    found: found.public_key.clone(),
                });
            }
            Some(found) => found.seq,
            None => 0,
        };
        let witness = Witness::open(
            path,
            options.witness.as_deref(),
            options.syslog.as_deref(),
            options.durability == Durability::Power,
            last_checkpoint.as_ref(),
        )?;
        let mut writer = Writer::new(conn, signer, options, head, sealed_seq, witness);
        writer.declare_witness().map_err(open_err)?;
        let writer = Arc::new(Mutex::new(writer));
        let group = Arc::new(Group::new(writer.clone()));
        let (sender, receiver) = channel();
        let leads = group.clone();
        let thread = std::thread::Builder::new()
            .name("warrant-audit-writer".to_owned())
            .spawn(move || crate::writer::run(&leads, &writer, &receiver))
            .map_err(AuditError::Spawn)?;
        let inner =
            Inner { sender: Mutex::new(Some(sender)), group, thread: Mutex::new(Some(thread)) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Appends `event` and returns once it is committed with the configured
    /// durability. Dropping the future does not withdraw the event.
    pub async fn append(&self, event: AuditEvent) -> Result<RecordRef, AuditError> {
        let (waiter, turn) = oneshot::channel();
        let Some(event) = self.inner.group.enter(event, Waiter::Async(waiter))? else {
            let mut following = Following { turn, group: &self.inner.group };
            return match (&mut following.turn).await.map_err(|_| AuditError::WriterGone)? {
                Turn::Done(result) => result,
                Turn::Lead(event) => self.inner.group.lead(event),
            };
        };
        self.inner.group.lead(event)
    }

    /// Appends `body` as a record of its kind, about `agent` if any, as
    /// [`append`](Self::append) does: the typed way to record.
    pub async fn append_body<B: Body>(
        &self,
        agent: Option<&str>,
        body: &B,
    ) -> Result<RecordRef, AuditError> {
        self.append(about(agent, AuditEvent::of(body)?)).await
    }

    /// Queues `event` behind every record appended before it and returns
    /// without waiting for its commit. For records of what has already
    /// happened, whose caller has nothing to refuse if the write fails (a
    /// call's result). It is written with the group being committed, or with
    /// the next one (a call's result, with the next call's decision), and
    /// within 10 ms by the writer thread if no
    /// group comes. A failed commit marks the log failed, so the next append
    /// that waits is refused. [`close`](Self::close), and dropping the last
    /// handle, write every queued record.
    pub fn append_queued(&self, event: AuditEvent) -> Result<(), AuditError> {
        if self.inner.group.queue(event)? && self.send(Command::Linger).is_err() {
            // No writer thread to ask: closing, which writes it, or gone.
            self.inner.group.flush();
        }
        Ok(())
    }

    /// [`append`](Self::append) for synchronous callers such as the CLI.
    ///
    /// It blocks the calling thread until the commit: call it from a plain
    /// thread or `spawn_blocking`, not from an async task, where it would
    /// stall the runtime's worker for the length of a commit.
    pub fn append_blocking(&self, event: AuditEvent) -> Result<RecordRef, AuditError> {
        let (waiter, turn) = sync_channel(1);
        let Some(event) = self.inner.group.enter(event, Waiter::Blocking(waiter))? else {
            return match turn.recv().map_err(|_| AuditError::WriterGone)? {
                Turn::Done(result) => result,
                Turn::Lead(event) => self.inner.group.lead(event),
            };
        };
        self.inner.group.lead(event)
    }

    /// Queues `body` as a record of its kind, about `agent` if any, as
    /// [`append_queued`](Self::append_queued) does: in its place, without
    /// waiting for the commit.
    pub fn append_body_queued<B: Body>(
        &self,
        agent: Option<&str>,
        body: &B,
    ) -> Result<(), AuditError> {
        self.append_queued(about(agent, AuditEvent::of(body)?))
    }

    /// [`append_body`](Self::append_body) for synchronous callers; blocks
    /// like [`append_blocking`](Self::append_blocking).
    pub fn append_body_blocking<B: Body>(
        &self,
        agent: Option<&str>,
        body: &B,
    ) -> Result<RecordRef, AuditError> {
        self.append_blocking(about(agent, AuditEvent::of(body)?))
    }

    /// Writes a signed checkpoint of the current head now, after everything
    /// queued before it. `None` when no record was written since the last
    /// checkpoint. Blocks like [`append_blocking`](Self::append_blocking).
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (reply, answer) = sync_channel(1);
        self.send(Command::Checkpoint { reply: Reply(reply) })?;
        answer.recv().map_err(|_| AuditError::WriterGone)?
    }

    /// Commits everything queued, writes a final checkpoint and stops the
    /// writer thread. Later appends, from any clone, fail with
    /// [`AuditError::Closed`]. Closing twice is a no-op. Blocks until the
    /// queue is written, like [`append_blocking`](Self::append_blocking).
    pub fn close(&self) -> Result<(), AuditError> {
        let Some(sender) = lock(&self.inner.sender).take() else {
            return Ok(());
        };
        self.inner.group.shut();
        let (reply, answer) = sync_channel(1);
        let sent = sender.send(Command::Close { reply: Reply(reply) });
        drop(sender);
        let result = match sent {
            Ok(()) => answer.recv().map_err(|_| AuditError::WriterGone).and_then(|r| r),
            Err(_) => Err(AuditError::WriterGone),
        };
        if let Some(thread) = lock(&self.inner.thread).take()
            && thread.join().is_err()
        {
            return Err(AuditError::WriterGone);
        }
        result
    }

    fn send(&self, command: Command) -> Result<(), AuditError> {
        match lock(&self.inner.sender).as_ref() {
            Some(sender) => sender.send(command).map_err(|_| AuditError::WriterGone),
            None => Err(AuditError::Closed),
        }
    }
}

/// An async appender waiting for its turn. The leader may hand it the
/// leadership after its future was last polled; if the future is then
/// dropped, the turn would be lost with it and nobody would lead again
/// (every later append, and `close`, would wait forever). Dropped, it takes
/// back a turn already handed over and leads.
struct Following<'a> {
    turn: oneshot::Receiver<Turn>,
    group: &'a Group,
}

impl Drop for Following<'_> {
    fn drop(&mut self) {
        // Closed first, so a leader still to send gets its turn back and
        // commits the record itself.
        self.turn.close();
        if let Ok(Turn::Lead(event)) = self.turn.try_recv() {
            let _ = self.group.lead(event);
        }
    }
}

fn about(agent: Option<&str>, event: AuditEvent) -> AuditEvent {
    match agent {
        Some(agent) => event.agent(agent),
        None => event,
    }
}

/// A poisoned lock only means another caller panicked while holding it; the
/// `Option` inside is still meaningful.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates the database file owner-only before SQLite sees it, so there is
/// no window in which it exists with the umask's permissions. SQLite gives
/// the `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &Path) -> Result<(), AuditError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|source| AuditError::Create { path: path.to_owned(), source })
}

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is `{mode}`, not `wal`"
        )));
    }
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Power => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    // Each commit appends whole pages to the WAL; copying them back (with an
    // fsync) every 1000 pages, SQLite's default, puts a stall in every few
    // hundred appends. A larger WAL copies each hot page back less often.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
}

/// Creates the tables in an empty database, or checks the format of an
/// existing one. Anything else in the file is refused, not adopted.
fn prepare_schema(conn: &mut Connection, path: &Path) -> Result<(), AuditError> {
    let open_err = |source| AuditError::Open { path: path.to_owned(), source };
    let tx = conn.transaction().map_err(open_err)?;
    let tables: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |row| row.get(0))
        .map_err(open_err)?;
    if tables == 0 {
        tx.execute_batch(SCHEMA).map_err(open_err)?;
        tx.execute("INSERT INTO meta(key, value) VALUES ('format', ?1)", [FORMAT])
            .map_err(open_err)?;
    } else {
        // No `meta` table at all reads as no format, and is refused below.
        let found: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0))
            .optional()
            .unwrap_or(None);
        if found.as_deref() != Some(FORMAT) {
            let found = found.unwrap_or_else(|| "none".to_owned());
            return Err(AuditError::UnknownFormat { path: path.to_owned(), found });
        }
    }
    tx.commit().map_err(open_err)
}

pub(crate) fn load_head(conn: &Connection) -> rusqlite::Result<Head> {
    // Read in every append's transaction: cached, not parsed each time.
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match last {
        Some((seq, hash)) => Head { seq: u64::try_from(seq).unwrap_or(0), hash },
        None => Head { seq: 0, hash: GENESIS_HASH.to_owned() },
    })
}

/// The newest checkpoint, with everything a witness line needs.
fn load_last_checkpoint(conn: &Connection) -> rusqlite::Result<Option<Checkpoint>> {
    conn.query_row(
        "SELECT id, seq, head_hash, ts_ms, public_key, signature FROM checkpoints
         ORDER BY id DESC LIMIT 1",
        [],
        |row| {
            Ok(Checkpoint {
                id: row.get(0)?,
                seq: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                head_hash: row.get(2)?,
                ts_ms: row.get(3)?,
                public_key: row.get(4)?,
                signature: row.get(5)?,
            })
        },
    )
    .optional()
}
