//! The witness: a copy of every signed checkpoint, kept outside the log.
//!
//! A checkpoint inside `audit.db` cannot vouch for its own absence: whoever
//! can write the database can delete the last checkpoint together with the
//! records it seals, or replace the database and `keys/audit.pub` with
//! another home's. So every checkpoint the writer commits is also appended,
//! as one line, to a witness file that lives outside the home, and sent to
//! the local syslog socket. `warrant-audit-verify` checks a log against such
//! a file: the key must be the witnessed one and every witnessed checkpoint
//! must still be in the log.
//!
//! # Line format `warrant-audit-witness/v1`
//!
//! One line per checkpoint: the canonical JSON (keys sorted, no whitespace)
//! of `{"head_hash", "public_key", "seq", "signature", "ts_ms"}`, the
//! checkpoint row's own columns, then `\n`. Lines are only ever appended; the
//! same checkpoint may appear more than once.
//!
//! # Where, and how hard
//!
//! - A witness path the caller sets is required: the log refuses to open if
//!   it cannot be appended to, and refuses further records after a failed
//!   append (fail closed, like a failed database write).
//! - Without one, the default is [`default_witness_path`], a file beside the
//!   home. It is written best effort: a home whose parent directory cannot be
//!   written (a service account's home under a root-owned directory) gets no
//!   witness file, and a warning says so.
//! - The syslog copy (`<13>warrant-audit[pid]: <line>` to `/dev/log` by
//!   default) is always best effort: no socket, a full socket or a daemon
//!   that drops the message loses that copy silently.
//!
//! # Declared in the log
//!
//! When the log is opened the writer says in the chain where this witness is
//! (an `audit_witness` record, specified in the crate doc), so that the
//! verifier, without being told, can look for it and report a witness that
//! was removed, emptied or cut while the log still says it was written. A
//! default witness that cannot be created is declared too, as not written:
//! that is the one case in which a missing witness is not a failure. A
//! default witness that fails later is dropped without a new declaration, so
//! the verifier reports it as cut (fail closed; the gateway warned).
//!
//! This module deliberately does not read a witness back or verify
//! anything (that is the verifier), ship lines off the machine, or protect
//! a witness that the attacker can write: a file the operator's uid can
//! rewrite is only as safe as the operator's uid.

use crate::event::Checkpoint;
use crate::log::AuditError;
use serde_json::json;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use warrant_core::canonical_json;

/// The syslog socket witness lines go to unless the caller says otherwise.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// `user.notice`: the facility an unprivileged program may use, and a
/// severity that default syslog configurations keep.
const SYSLOG_PRIORITY: u8 = 13;

/// The syslog tag; `journalctl -t warrant-audit -o cat` prints the lines.
const SYSLOG_TAG: &str = "warrant-audit";

/// How far from the end of the file the last line is looked for.
const TAIL_WINDOW: u64 = 4096;

/// The default witness of the log at `db`: `<parent>/<home>-witness.jsonl`
/// for a log at `<parent>/<home>/audit.db`, so `~/.warrant/audit.db` is
/// witnessed in `~/.warrant-witness.jsonl`. Beside the home rather than in
/// it, it survives the home being cut, replaced or deleted; any process of
/// the operator's uid can still rewrite it. `None` when the log's directory
/// has no parent or no name (a log at `/audit.db`, or `audit.db` in the
/// current directory). The home's path is resolved first (symlinks
/// followed), so every name of one home gives one witness.
pub fn default_witness_path(db: &Path) -> Option<PathBuf> {
    let home = std::path::absolute(db).ok()?.parent()?.to_owned();
    // Where the home really is: a home named through a link has one
    // witness, the same whichever name a process used.
    let home = home.canonicalize().unwrap_or(home);
    let name = home.file_name()?.to_str()?;
    Some(home.parent()?.join(format!("{name}-witness.jsonl")))
}

/// Where the writer copies its checkpoints.
pub(crate) struct Witness {
    file: Option<WitnessFile>,
    /// The file's absolute path, kept after a default witness is dropped:
    /// the declaration names where a witness was meant to be.
    declared: Option<PathBuf>,
    /// Whether the caller set the path (and so requires it).
    required: bool,
    syslog: Option<PathBuf>,
}

struct WitnessFile {
    path: PathBuf,
    /// Set by the caller: failing to write it fails the log.
    required: bool,
    /// fsync each line, for `Durability::Power`.
    sync: bool,
}

impl Witness {
    /// Resolves the witness of the log at `db` and catches it up with
    /// `latest`, the newest checkpoint already in the log (a witness set up
    /// after the log, or a writer killed between commit and copy). Creating
    /// the file here also proves, before the first record, that it can be
    /// written.
    pub(crate) fn open(
        db: &Path,
        configured: Option<&Path>,
        syslog: Option<&Path>,
        sync: bool,
        latest: Option<&Checkpoint>,
    ) -> Result<Self, AuditError> {
        let file = match configured {
            Some(path) => {
                refuse_inside_home(db, path)?;
                Some(WitnessFile { path: path.to_owned(), required: true, sync })
            }
            None => {
                default_witness_path(db).map(|path| WitnessFile { path, required: false, sync })
            }
        };
        if file.is_none() {
            tracing::warn!(log = %db.display(), "audit log has no place for a default witness");
        }
        let declared = file
            .as_ref()
            .map(|file| std::path::absolute(&file.path).unwrap_or_else(|_| file.path.clone()));
        let mut witness = Self {
            file,
            declared,
            required: configured.is_some(),
            syslog: syslog.map(Path::to_owned),
        };
        witness.catch_up(latest)?;
        Ok(witness)
    }

    /// The body of the `audit_witness` record that says where this writer
    /// copies its checkpoints: `{"path", "required", "written"}`, `written`
    /// false when a default witness could not be created, `path` null when
    /// the log has no place for one. A path that is not UTF-8 is written
    /// lossily: the verifier then finds no witness there and fails, closed.
    pub(crate) fn declaration(&self) -> serde_json::Value {
        json!({
            "path": self.declared.as_deref().map(|path| path.to_string_lossy()),
            "required": self.required,
            "written": self.file.is_some(),
        })
    }

    /// Appends `checkpoint` to the witness file and sends it to syslog. An
    /// error means a required witness could not be written.
    pub(crate) fn record(&mut self, checkpoint: &Checkpoint) -> Result<(), AuditError> {
        let line = line(checkpoint)?;
        if let Some(socket) = &self.syslog {
            send_syslog(socket, &line);
        }
        self.append(&line)
    }

    fn catch_up(&mut self, latest: Option<&Checkpoint>) -> Result<(), AuditError> {
        let Some(file) = &self.file else { return Ok(()) };
        let Some(checkpoint) = latest else {
            return self.append("");
        };
        let line = line(checkpoint)?;
        if last_line(&file.path).as_deref() == Some(line.trim_end()) {
            return Ok(());
        }
        self.append(&line)
    }

    /// Appends `line` (possibly empty: only create the file). A default
    /// witness that fails is dropped with a warning, once.
    fn append(&mut self, line: &str) -> Result<(), AuditError> {
        let Some(file) = &self.file else { return Ok(()) };
        let Err(source) = append_line(&file.path, line, file.sync) else { return Ok(()) };
        if file.required {
            return Err(AuditError::Witness { path: file.path.clone(), source });
        }
        tracing::warn!(
            witness = %file.path.display(),
            error = %source,
            "cannot write the default audit witness; the log goes on without one"
        );
        self.file = None;
        Ok(())
    }
}

/// The witness line of `checkpoint`, with its newline.
fn line(checkpoint: &Checkpoint) -> Result<String, AuditError> {
    let value = json!({
        "head_hash": checkpoint.head_hash,
        "public_key": checkpoint.public_key,
        "seq": checkpoint.seq,
        "signature": checkpoint.signature,
        "ts_ms": checkpoint.ts_ms,
    });
    let mut text = canonical_json(&value).map_err(AuditError::Body)?;
    text.push('\n');
    Ok(text)
}

/// A witness inside the log's own directory falls with the log.
fn refuse_inside_home(db: &Path, witness: &Path) -> Result<(), AuditError> {
    let inside = |db: &Path, witness: &Path| -> Option<bool> {
        let home = std::path::absolute(db).ok()?.parent()?.to_owned();
        Some(std::path::absolute(witness).ok()?.starts_with(home))
    };
    if inside(db, witness).unwrap_or(false) {
        return Err(AuditError::WitnessInHome { path: witness.to_owned(), log: db.to_owned() });
    }
    Ok(())
}

/// One `write` with `O_APPEND`, so lines from several writers (the gateway
/// and a CLI command) do not interleave.
fn append_line(path: &Path, line: &str, sync: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    if line.is_empty() {
        return Ok(());
    }
    file.write_all(line.as_bytes())?;
    if sync { file.sync_data() } else { Ok(()) }
}

/// The last complete line of the file, if it can be read.
fn last_line(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_WINDOW))).ok()?;
    let mut tail = String::new();
    file.read_to_string(&mut tail).ok()?;
    tail.strip_suffix('\n')?.rsplit('\n').next().map(str::to_owned)
}

/// Best effort by design: the witness file is the copy that counts.
#[cfg(unix)]
fn send_syslog(socket: &Path, line: &str) {
    use std::os::unix::net::UnixDatagram;
    let message =
        format!("<{SYSLOG_PRIORITY}>{SYSLOG_TAG}[{}]: {}", std::process::id(), line.trim_end());
    let sent = UnixDatagram::unbound().and_then(|sock| {
        // Never wait for a slow syslog daemon while holding the writer.
        sock.set_nonblocking(true)?;
        sock.send_to(message.as_bytes(), socket)
    });
    if let Err(err) = sent {
        tracing::debug!(socket = %socket.display(), error = %err, "witness line not sent to syslog");
    }
}

#[cfg(not(unix))]
fn send_syslog(_socket: &Path, _line: &str) {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_default_witness_sits_beside_the_home_not_in_it() {
        assert_eq!(
            default_witness_path(Path::new("/home/op/.warrant/audit.db")),
            Some(PathBuf::from("/home/op/.warrant-witness.jsonl"))
        );
        assert_eq!(default_witness_path(Path::new("/audit.db")), None);
    }

    #[test]
    fn a_witness_line_is_the_canonical_checkpoint_row() {
        let checkpoint = Checkpoint {
            id: 3,
            seq: 12,
            head_hash: "ab".into(),
            ts_ms: 1_700_000_000_000,
            public_key: "cd".into(),
            signature: "ef".into(),
        };
        assert_eq!(
            line(&checkpoint).unwrap(),
            "{\"head_hash\":\"ab\",\"public_key\":\"cd\",\"seq\":12,\"signature\":\"ef\",\
             \"ts_ms\":1700000000000}\n"
        );
    }

    #[test]
    fn a_witness_inside_the_home_is_refused() {
        let db = Path::new("/srv/home/audit.db");
        assert!(refuse_inside_home(db, Path::new("/srv/home/keys/w.jsonl")).is_err());
        assert!(refuse_inside_home(db, Path::new("/srv/home-witness.jsonl")).is_ok());
    }
}
