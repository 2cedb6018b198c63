//! The control plane: the CLI talks to the running gateway over a Unix
//! socket in the home's `run/` directory (0700), the socket itself 0600, and
//! every connection's peer must be the home's owner (SO_PEERCRED). One JSON
//! request line, one JSON response line.

use crate::approvals::{self, Verdict};
use crate::gateway::Gateway;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use warrant_audit::EventKind;

/// The largest control request accepted.
const MAX_REQUEST: u64 = 64 * 1024;

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
    Ask(approvals::Question),
}

/// The control plane could not be reached or refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the gateway is not running (no control socket at `{0}`); start it with `warrant up`")]
    NotRunning(String),
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
    #[error("control socket answered something unreadable: {0}")]
    Protocol(String),
}

/// Binds the socket. Refuses if another gateway answers on it.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::Refused(format!(
                "another gateway is already running for this home (control socket `{}` answers)",
                path.display()
            )));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves control requests until `shutdown`.
pub async fn serve(
    listener: UnixListener,
    gw: Arc<Gateway>,
    owner_uid: u32,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { tracing::warn!(error = %e, "control accept failed"); continue; }
            },
        };
        let gw = gw.clone();
        tokio::spawn(async move {
            let peer_uid = stream.peer_cred().map(|c| c.uid()).ok();
            let (read, mut write) = stream.into_split();
            // The request is read (bounded in size and time) before any
            // answer, even from a peer that will be refused: closing with it
            // unread would reset the connection under the refusal.
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
            let received =
                tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
            let reply = if peer_uid != Some(owner_uid) {
                json!({"ok": false, "error": "control socket: peer is not the owner of this Warrant home"})
            } else {
                match received {
                    Ok(Ok(_)) => match serde_json::from_str::<ControlRequest>(&line) {
                        Ok(ControlRequest::Ask(question)) => ask(&gw, question, reader).await,
                        Ok(req) => handle(&gw, req).await,
                        Err(e) => {
                            json!({"ok": false, "error": format!("bad control request: {e}")})
                        }
                    },
                    _ => json!({"ok": false, "error": "control request not received in time"}),
                }
            };
            let mut bytes = reply.to_string().into_bytes();
            bytes.push(b'\n');
            let _ = write.write_all(&bytes).await;
        });
    }
}

/// Puts `question` to a person ([`approvals::ask_person`]) and answers when
/// it is settled; the asker closing its end (`client` reaching EOF) abandons
/// it.
async fn ask(
    gw: &Arc<Gateway>,
    question: approvals::Question,
    mut client: impl AsyncRead + Unpin,
) -> Value {
    let gone = async {
        let mut byte = [0u8; 1];
        while matches!(client.read(&mut byte).await, Ok(n) if n > 0) {}
    };
    match approvals::ask_person(gw, question, gone).await {
        Ok(answer) => json!({"ok": true, "data": answer}),
        Err(e) => json!({"ok": false, "error": e}),
    }
}

async fn handle(gw: &Arc<Gateway>, req: ControlRequest) -> Value {
    match req {
        ControlRequest::Status => json!({"ok": true, "data": crate::status(gw)}),
        ControlRequest::Approvals => json!({"ok": true, "data": gw.approvals.list()}),
        ControlRequest::Approve { id, by } | ControlRequest::Deny { id, by } if by.is_empty() => {
            json!({"ok": false, "error": format!("approval `{id}` needs the name of who decides")})
        }
        ControlRequest::Approve { id, by } => resolve(gw, &id, Verdict::Approved { by }).await,
        ControlRequest::Deny { id, by } => resolve(gw, &id, Verdict::Denied { by }).await,
        ControlRequest::ReloadPins => match gw.reload_pins() {
            Ok(lifted) => json!({"ok": true, "data": {"lifted": lifted}}),
            Err(e) => json!({"ok": false, "error": e}),
        },
        ControlRequest::ReloadKills => match gw.reload_kills() {
            Ok(n) => json!({"ok": true, "data": {"cancelled": n}}),
            Err(e) => json!({"ok": false, "error": e}),
        },
        ControlRequest::ReloadRevocations => match gw.reload_revocations() {
            Ok(n) => json!({"ok": true, "data": {"revoked": n}}),
            Err(e) => json!({"ok": false, "error": e}),
        },
        // Served by `ask`, which needs the connection.
        ControlRequest::Ask(_) => json!({"ok": false, "error": "internal: ask not routed"}),
    }
}

async fn resolve(gw: &Arc<Gateway>, id: &str, verdict: Verdict) -> Value {
    let (word, by) = match &verdict {
        Verdict::Approved { by } => ("approve", by.clone()),
        Verdict::Denied { by } => ("deny", by.clone()),
    };
    // The person's act is recorded before it takes effect.
    let detail = json!({"approval": id, "act": word, "by": by});
    if let Err(e) = gw.record(EventKind::ApprovalResolved, None, detail).await {
        return json!({"ok": false, "error": format!("audit log unavailable: {e}")});
    }
    match gw.approvals.resolve(id, verdict) {
        Ok(view) => json!({"ok": true, "data": view}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
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
    let mut line = serde_json::to_string(req).map_err(|e| ControlError::Protocol(e.to_string()))?;
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
    let value: Value =
        serde_json::from_str(&reply).map_err(|e| ControlError::Protocol(e.to_string()))?;
    if value.get("ok") == Some(&Value::Bool(true)) {
        Ok(value.get("data").cloned().unwrap_or(Value::Null))
    } else {
        let error = value.get("error").and_then(Value::as_str).unwrap_or("unknown error");
        Err(ControlError::Refused(error.to_owned()))
    }
}

/// The uid that owns `path` (the home), whose processes may control it.
pub fn owner_uid(path: &Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.uid())
}
