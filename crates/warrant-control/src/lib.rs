//! The control plane's protocol: the CLI talks to the running gateway over a Unix
//! socket in the home's `run/` directory (0700), the socket itself 0600. One
//! JSON request line, one JSON response line.
//!
//! Approving a call, lifting a kill, reloading what the CLI changed: these
//! are the operator's acts, and the operator's uid is not enough to tell the
//! operator apart, because a sandboxed agent runs as that uid too. So every
//! request must pass three checks, each on its own enough to stop an agent
//! that reaches the socket:
//!
//! 1. the peer's uid owns the home (`SO_PEERCRED`);
//! 2. the peer is in the gateway's own user and mount namespaces (every
//!    sandbox has its own of both, so a process in one, or descended from
//!    one, is refused whatever it can reach);
//! 3. the request carries the control key: random bytes the gateway writes
//!    to `run/control.key` (0600) at each start. No sandbox can read the
//!    home, so where the kernel cannot tell (an agent the operator started
//!    outside any sandbox, or a sandbox that was somehow given the socket),
//!    the key still can.

//!
//! This crate is what every side shares: the requests and answers, the
//! operator's client (the CLI, and `warrant run` asking a person about a
//! connection), and the listener's half that needs no running gateway (the
//! socket, the key, who the peer is). The gateway serves it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::UnixListener;

/// The largest control request accepted.
pub const MAX_REQUEST: u64 = 64 * 1024;
/// How the gateway refuses a request without the right key.
pub const WRONG_KEY: &str = "wrong control key";
/// Bytes of randomness in the control key.
const KEY_BYTES: usize = 32;

/// The control key a running gateway accepts: random, made at each start.
/// No `Debug`, `Clone` or `Serialize`; zeroized on drop.
pub struct ControlKey(zeroize::Zeroizing<String>);

impl ControlKey {
    /// Whether `offered` is this key, in time independent of where they differ.
    pub fn accepts(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Where the control key of the gateway whose socket is `socket` lives.
pub fn key_path(socket: &Path) -> PathBuf {
    socket.with_file_name("control.key")
}

/// A request as it travels: the operation and the control key.
#[derive(Serialize, Deserialize)]
pub struct Envelope<R> {
    /// Missing is the same as wrong.
    #[serde(default)]
    pub key: String,
    #[serde(flatten)]
    pub request: R,
}

/// A control request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlRequest {
    Status,
    Approvals,
    Approve {
        id: String,
        by: String,
    },
    Deny {
        id: String,
        by: String,
    },
    ReloadRevocations,
    /// Re-read the kill list and stop what it names, now.
    ReloadKills,
    /// Re-read the pins after `tools accept`.
    ReloadPins,
    /// Another Warrant process (a `warrant run`'s egress proxy) asks a person
    /// about something policy said to ask about. It shows in `warrant
    /// approvals` like a waiting call; the answer comes when a person
    /// decides, the approval timeout passes, or the asker goes away (then it
    /// is withdrawn).
    Ask(Question),
}

/// Something other than a tool call that policy asks a person about (a
/// connection), as the gateway's `ask_person` puts it to `warrant
/// approvals`. It also travels over the control socket, from a run's proxy
/// to the gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    pub agent: warrant_core::AgentId,
    pub agent_name: String,
    /// What is asked about, shown in place of a tool, e.g. `egress: CONNECT
    /// example.com:443`.
    pub subject: String,
    /// Its details (for a connection: host, port, method).
    pub details: serde_json::Value,
    /// The `@id` of the rule that asks, and its `@ask` text.
    pub rule: String,
    pub why: String,
}

/// How a [`Question`] was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    Approved,
    Denied,
    TimedOut,
    /// The asker went away first.
    Abandoned,
}

impl Settled {
    /// As the audit records name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::TimedOut => "timed_out",
            Self::Abandoned => "abandoned",
        }
    }
}

/// A [`Question`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub approval: String,
    pub outcome: Settled,
    /// Who decided (empty unless approved or denied).
    pub by: String,
    pub timeout_s: u64,
}

/// The control plane could not be reached or refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the gateway is not running (no control socket at `{0}`); start it with `warrant up`")]
    NotRunning(String),
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    /// The gateway refused the request: its own words.
    #[error("{0}")]
    Refused(String),
    #[error(
        "another gateway is already running for this home (control socket `{}` answers)",
        .0.display()
    )]
    AlreadyRunning(PathBuf),
    #[error("no randomness for the control key")]
    Randomness(#[source] getrandom::Error),
    #[error(
        "cannot read the control key `{}`: only the home's owner, outside any sandbox, controls the gateway",
        path.display()
    )]
    KeyUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the request for the control socket")]
    Encode(#[source] serde_json::Error),
    #[error("control socket answered something unreadable")]
    Protocol(#[source] serde_json::Error),
}

/// Binds the socket and writes a fresh control key beside it. Refuses if
/// another gateway answers on it.
pub fn bind(path: &Path) -> Result<(UnixListener, ControlKey), ControlError> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::AlreadyRunning(path.to_owned()));
        }
        std::fs::remove_file(path)?;
    }
    let key = write_key(&key_path(path))?;
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok((listener, key))
}

/// Makes a new control key and puts it at `path` (0600), replacing the last
/// gateway's in one rename.
fn write_key(path: &Path) -> Result<ControlKey, ControlError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = zeroize::Zeroizing::new([0u8; KEY_BYTES]);
    getrandom::fill(bytes.as_mut()).map_err(ControlError::Randomness)?;
    let key = zeroize::Zeroizing::new(hex::encode(bytes.as_ref()));
    let staged = path.with_extension("key.new");
    let _ = std::fs::remove_file(&staged);
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&staged)?;
    file.write_all(key.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&staged, path)?;
    Ok(ControlKey(key))
}

/// Reads the control key of the gateway whose socket is `socket`.
fn read_key(socket: &Path) -> Result<zeroize::Zeroizing<String>, ControlError> {
    let path = key_path(socket);
    match std::fs::read_to_string(&path) {
        Ok(key) => Ok(zeroize::Zeroizing::new(key)),
        Err(source) => Err(ControlError::KeyUnreadable { path, source }),
    }
}

/// Why a peer of the control socket is not the operator, if it is not.
pub fn not_the_operator(
    peer: Option<&tokio::net::unix::UCred>,
    owner_uid: u32,
    own_namespaces: &[String],
) -> Option<String> {
    let Some(peer) = peer else {
        return Some("the peer's credentials cannot be read".to_owned());
    };
    if peer.uid() != owner_uid {
        return Some("peer is not the owner of this Warrant home".to_owned());
    }
    let Some(pid) = peer.pid().filter(|pid| *pid > 0) else {
        return Some("the peer's process cannot be seen from the gateway".to_owned());
    };
    match namespaces(&format!("/proc/{pid}")) {
        Ok(theirs) if theirs == own_namespaces => None,
        Ok(_) => Some(
            "peer runs in another user or mount namespace (a sandbox): only the operator controls the gateway"
                .to_owned(),
        ),
        Err(e) => Some(format!("the peer's namespaces cannot be read ({e})")),
    }
}

/// The user and mount namespaces of the process at `proc` (`/proc/PID`).
pub fn namespaces(proc: &str) -> std::io::Result<Vec<String>> {
    ["user", "mnt"]
        .iter()
        .map(|ns| std::fs::read_link(format!("{proc}/ns/{ns}")).map(|p| p.display().to_string()))
        .collect()
}

/// Sends one request to the running gateway of the home whose socket is
/// `path` (blocking; for the CLI).
pub fn request(path: &Path, req: &ControlRequest) -> Result<Value, ControlError> {
    request_waiting(path, req, Duration::from_secs(10))
}

/// [`request`], waiting up to `wait` for the answer (an
/// [`ControlRequest::Ask`] waits for a person).
pub fn request_waiting(
    path: &Path,
    req: &ControlRequest,
    wait: Duration,
) -> Result<Value, ControlError> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ControlError::NotRunning(path.display().to_string())
        }
        _ => ControlError::Io(e),
    })?;
    stream.set_read_timeout(Some(wait))?;
    // Without the key the request still goes, so that the gateway's own
    // refusal (another user, a sandbox) is what the caller sees; if the key
    // was all that was wrong, the reason it could not be read is.
    let key = read_key(path);
    let offered = key.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default();
    let envelope = Envelope { key: offered, request: req };
    let mut line =
        zeroize::Zeroizing::new(serde_json::to_string(&envelope).map_err(ControlError::Encode)?);
    line.push('\n');
    // A gateway that refuses the peer answers and closes without reading,
    // so the write may fail with a broken pipe; its answer is still there
    // to read, and it says more than the pipe error.
    if let Err(e) = stream.write_all(line.as_bytes())
        && !matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
    {
        return Err(ControlError::Io(e));
    }
    let mut reply = String::new();
    BufReader::new(stream.take(16 * 1024 * 1024)).read_line(&mut reply)?;
    let value: Value = serde_json::from_str(&reply).map_err(ControlError::Protocol)?;
    if value.get("ok") == Some(&Value::Bool(true)) {
        Ok(value.get("data").cloned().unwrap_or(Value::Null))
    } else {
        let error = value.get("error").and_then(Value::as_str).unwrap_or("unknown error");
        match key {
            Err(unreadable) if error.contains(WRONG_KEY) => Err(unreadable),
            _ => Err(ControlError::Refused(error.to_owned())),
        }
    }
}

/// The uid that owns `path` (the home), whose processes may control it.
pub fn owner_uid(path: &Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.uid())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]

    use super::*;

    #[test]
    fn an_unreadable_control_key_keeps_the_reason_why() {
        let socket = Path::new("no-such-home").join("control.sock");
        let Err(error) = read_key(&socket) else { panic!("a missing key was read") };
        let ControlError::KeyUnreadable { path, source } = &error else {
            panic!("not KeyUnreadable: {error:?}")
        };
        assert_eq!(path, &key_path(&socket));
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        let shown = warrant_core::text::with_causes(&error);
        assert!(shown.ends_with(&format!(": {source}")), "{shown}");
    }
}
