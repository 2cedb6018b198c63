//! Red team of the hot path: the JSON answer, records queued without a
//! waiter, pooled HTTP upstreams, results that cannot be screened. Each test
//! is an attack; it passes when the attack fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;
use warrant_audit::{AuditEvent, AuditLog, AuditOptions, EventKind};
use warrant_state::Home;

fn event(n: u64) -> AuditEvent {
    AuditEvent::danger_untyped(EventKind::Decision, json!({"n": n})).agent("agent-1")
}

/// An append whose future is dropped after the group handed it the
/// leadership, before it was polled again (a call cut short by `warrant
/// kill`, a client that hangs up while its refusal is recorded), must not
/// leave the group without a leader: every later append, queued records and
/// `close` would wait forever.
#[test]
fn an_append_dropped_after_it_was_made_leader_does_not_wedge_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("home"));
    home.init().unwrap();
    let log = AuditLog::open(
        &home.audit_db(),
        home.load_audit_key().unwrap(),
        AuditOptions { syslog: None, ..AuditOptions::default() },
    )
    .unwrap();

    // Another appender keeps a group being committed most of the time, so an
    // append made now waits for it, and is then handed the leadership.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = log.append_blocking(event(n));
                n += 1;
            }
        })
    };
    let mut waited = 0;
    for n in 0..1000 {
        let mut append = Box::pin(log.append(event(1_000_000 + n)));
        if append.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready() {
            continue;
        }
        // It waits: by now the leader has answered it or handed it the
        // leadership. Either way, it is abandoned unpolled.
        std::thread::sleep(Duration::from_millis(20));
        drop(append);
        waited += 1;
        if waited == 20 {
            break;
        }
    }
    assert!(waited > 0, "no append ever waited for a group");

    let (done, appended) = std::sync::mpsc::channel();
    let probe = log.clone();
    std::thread::spawn(move || {
        let _ = done.send(probe.append_blocking(event(u64::MAX)));
    });
    let appended = appended.recv_timeout(Duration::from_secs(5));
    assert!(
        matches!(appended, Ok(Ok(_))),
        "the audit log stopped taking records after an abandoned append: {appended:?}"
    );
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    log.close().unwrap();
}
