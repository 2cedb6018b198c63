//! The control plane: the CLI talks to the running gateway over a Unix
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

use crate::approvals::Verdict;
use crate::asking::{Ask, ask_person};
use crate::gateway::Gateway;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use warrant_audit::events::{ApprovalAct, ApprovalActed, ApprovalResolved};
use warrant_control::{
    ControlKey, ControlRequest, Envelope, MAX_REQUEST, WRONG_KEY, namespaces, not_the_operator,
};
use warrant_core::UnixMillis;
use warrant_core::text::with_causes;

/// Serves control requests until `shutdown`.
pub async fn serve(
    listener: UnixListener,
    key: ControlKey,
    gw: Arc<Gateway>,
    owner_uid: u32,
    shutdown: CancellationToken,
) {
    let key = Arc::new(key);
    // Read once: the gateway's own namespaces do not change.
    let own = namespaces("/proc/self").unwrap_or_default();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { tracing::warn!(error = %e, "control accept failed"); continue; }
            },
        };
        let gw = gw.clone();
        let key = key.clone();
        let own = own.clone();
        tokio::spawn(async move {
            let peer = stream.peer_cred().ok();
            let refusal = if own.is_empty() {
                Some("the gateway cannot read its own namespaces".to_owned())
            } else {
                not_the_operator(peer.as_ref(), owner_uid, &own)
            };
            let (read, mut write) = stream.into_split();
            // The request is read (bounded in size and time) before any
            // answer, even from a peer that will be refused: closing with it
            // unread would reset the connection under the refusal.
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
            let received =
                tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
            let reply = if let Some(why) = refusal {
                tracing::warn!(%why, "control request refused");
                json!({"ok": false, "error": format!("control socket: {why}")})
            } else {
                match received {
                    Ok(Ok(_)) => match serde_json::from_str::<Envelope<ControlRequest>>(&line) {
                        Ok(envelope) if !key.accepts(&envelope.key) => {
                            tracing::warn!("control request with a wrong key refused");
                            json!({"ok": false, "error": format!("control socket: {WRONG_KEY}")})
                        }
                        Ok(Envelope { request: ControlRequest::Ask(question), .. }) => {
                            ask(&gw, question, reader).await
                        }
                        Ok(envelope) => handle(&gw, envelope.request).await,
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

/// Puts `question` to a person ([`ask_person`]) and answers when
/// it is settled; the asker closing its end (`client` reaching EOF) abandons
/// it.
async fn ask(
    gw: &Arc<Gateway>,
    question: warrant_control::Question,
    mut client: impl AsyncRead + Unpin,
) -> Value {
    let gone = async {
        let mut byte = [0u8; 1];
        while matches!(client.read(&mut byte).await, Ok(n) if n > 0) {}
    };
    match ask_person(gw, Ask::from_question(question), gone).await {
        Ok(answer) => json!({"ok": true, "data": answer}),
        Err(e) => json!({"ok": false, "error": with_causes(&e)}),
    }
}

async fn handle(gw: &Arc<Gateway>, req: ControlRequest) -> Value {
    match req {
        ControlRequest::Status => json!({"ok": true, "data": status(gw)}),
        ControlRequest::Approvals => json!({"ok": true, "data": gw.approvals.list()}),
        ControlRequest::Approve { id, by } | ControlRequest::Deny { id, by } if by.is_empty() => {
            json!({"ok": false, "error": format!("approval `{id}` needs the name of who decides")})
        }
        ControlRequest::Approve { id, by } => resolve(gw, &id, Verdict::Approved { by }).await,
        ControlRequest::Deny { id, by } => resolve(gw, &id, Verdict::Denied { by }).await,
        ControlRequest::ReloadPins => match gw.reload_pins() {
            Ok(lifted) => json!({"ok": true, "data": {"lifted": lifted}}),
            Err(e) => json!({"ok": false, "error": with_causes(&e)}),
        },
        ControlRequest::ReloadKills => match gw.reload_kills() {
            Ok(n) => json!({"ok": true, "data": {"cancelled": n}}),
            Err(e) => json!({"ok": false, "error": with_causes(&e)}),
        },
        ControlRequest::ReloadRevocations => match gw.reload_revocations() {
            Ok(n) => json!({"ok": true, "data": {"revoked": n}}),
            Err(e) => json!({"ok": false, "error": with_causes(&e)}),
        },
        // Served by `ask`, which needs the connection.
        ControlRequest::Ask(_) => json!({"ok": false, "error": "internal: ask not routed"}),
    }
}

async fn resolve(gw: &Arc<Gateway>, id: &str, verdict: Verdict) -> Value {
    let (act, by) = match &verdict {
        Verdict::Approved { by } => (ApprovalAct::Approve, by.clone()),
        Verdict::Denied { by } => (ApprovalAct::Deny, by.clone()),
    };
    // The person's act is recorded before it takes effect.
    let acted = ApprovalResolved::Acted(ApprovalActed { approval: id.to_owned(), act, by });
    if let Err(e) = gw.record(None, &acted).await {
        return json!({"ok": false, "error": format!("audit log unavailable: {e}")});
    }
    match gw.approvals.resolve(id, verdict) {
        Ok(view) => json!({"ok": true, "data": view}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
}

/// What `warrant status` shows of a running gateway.
fn status(gw: &Gateway) -> Value {
    let upstreams: Vec<_> = gw.upstreams.values().filter_map(|u| u.status()).collect();
    let tools: Vec<Value> = gw
        .tools
        .all()
        .iter()
        .map(|t| {
            let quarantine = gw.tools.quarantine(t.name.as_str());
            json!({
                "name": t.name.as_str(), "pin": t.pin, "schema_error": t.schema.as_ref().err(),
                "state": if quarantine.is_some() { "quarantined" } else { "active" },
                "quarantine": quarantine,
            })
        })
        .collect();
    let healthy = upstreams.iter().all(|u| u.state == "up");
    let now = UnixMillis::now();
    let agents: Value = match gw.registry.list() {
        Ok(list) => list
            .iter()
            .map(|a| {
                json!({
                    "id": a.agent_id.to_string(), "name": a.name.as_str(), "spiffe_id": a.spiffe_id,
                    "task": a.task, "spawned_by": a.spawned_by, "state": a.state(now),
                    "expires_at": a.expires_at.to_rfc3339(),
                })
            })
            .collect(),
        Err(e) => json!({"error": e.to_string()}),
    };
    json!({
        "mcp_url": gw.mcp_url.get(),
        "pid": std::process::id(),
        "started_at": gw.started_at.to_rfc3339(),
        "uptime_s": (now.0 - gw.started_at.0) / 1000,
        "health": if healthy { "ok" } else { "degraded" },
        "upstreams": upstreams,
        "agents": agents,
        "tools": tools,
        "refused_tools": gw.tools.refused(),
        "pending_approvals": gw.approvals.list().len(),
        "alerts": gw.denials.alerts(),
        "policy_rules": gw.policy.len(),
        "discover": gw.discover.is_some(),
        "discover_agents": gw.discover_only,
    })
}
