//! The audit log as the real gateway writes it: verified when intact, named
//! at the first bad record when edited, and complete after a SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use rusqlite::Connection;
use serde_json::json;
use warrant_test_support::{Warrant, audit_records, client};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

/// A home whose log holds a few sealed calls.
fn used_home() -> Warrant {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("worker", &[]);
    let gw = w.up();
    let calls: Vec<_> = (0..5)
        .map(|i| json!({"op": "call", "tool": "risk__add", "arguments": {"a": i, "b": 1}}))
        .collect();
    assert_eq!(client(&gw.url, Some(&token), &json!(calls))["ok"], true);
    drop(gw); // SIGTERM: the shutdown checkpoint seals everything
    w
}

fn copy_home(w: &Warrant) -> Warrant {
    let copy = Warrant { bin: w.bin.clone(), dir: tempfile_dir(), env: Default::default() };
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(w.home())
        .arg(copy.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn tamper(w: &Warrant, sql: &str) -> warrant_test_support::Output {
    let copy = copy_home(w);
    Connection::open(copy.home().join("audit.db")).unwrap().execute_batch(sql).unwrap();
    let out = copy.run(&["audit", "verify"]);
    assert_ne!(out.code, 0, "tampering with `{sql}` went unnoticed: {}", out.stdout);
    out
}

#[test]
fn an_intact_log_verifies_and_every_kind_of_tampering_is_named() {
    let w = used_home();
    let ok = w.run(&["audit", "verify"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("unsealed_records: 0"), "{}", ok.stdout);

    let edited =
        tamper(&w, "UPDATE records SET body = replace(body, 'allow', 'deny') WHERE seq = 5");
    assert!(edited.stderr.contains('5'), "{}", edited.stderr);
    let deleted = tamper(&w, "DELETE FROM records WHERE seq = 4");
    assert!(deleted.stderr.contains('4'), "{}", deleted.stderr);
    tamper(
        &w,
        "UPDATE records SET kind = 'decision' WHERE seq = 6 AND kind <> 'decision'; UPDATE records SET ts_ms = ts_ms + 1 WHERE seq = 6",
    );
    tamper(&w, "UPDATE records SET body = (SELECT body FROM records WHERE seq = 3) WHERE seq = 7");
    let head: i64 = Connection::open(w.home().join("audit.db"))
        .unwrap()
        .query_row("SELECT max(seq) FROM records", [], |r| r.get(0))
        .unwrap();
    let truncated = tamper(&w, &format!("DELETE FROM records WHERE seq > {}", head - 3));
    assert!(!truncated.stderr.is_empty());
    tamper(
        &w,
        "UPDATE checkpoints SET signature = replace(signature, substr(signature, 1, 2), 'ff') WHERE id = (SELECT max(id) FROM checkpoints)",
    );
}

#[test]
fn acknowledged_calls_survive_a_sigkill_of_the_gateway() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("worker", &[]);
    let mut gw = w.up();
    let calls: Vec<_> = (0..20)
        .map(|i| json!({"op": "call", "tool": "risk__add", "arguments": {"a": i, "b": 1}}))
        .collect();
    let out = client(&gw.url, Some(&token), &json!(calls));
    assert!(out["results"].as_array().unwrap().iter().all(|r| r["is_error"] == false), "{out}");
    gw.stop_with("KILL");
    let records = audit_records(&w);
    let results = records.iter().filter(|r| r["kind"] == "call_result").count();
    assert_eq!(results, 20, "every answered call left its result in the log");
    let verified = w.run(&["audit", "verify"]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    // The next gateway continues the same chain.
    let gw = w.up();
    assert_eq!(client(&gw.url, Some(&token), &json!([{"op": "ping"}]))["ok"], true);
    drop(gw);
    assert_eq!(w.run(&["audit", "verify"]).code, 0);
}

#[test]
fn a_clean_stop_stops_the_upstream_children() {
    let w = Warrant::new(BIN);
    let pid_file = w.dir.path().join("crash.pid");
    w.add_fixture_upstream(
        "crash",
        "crash_server.py",
        &format!("env = {{ CRASH_PID_FILE = {:?} }}", pid_file.display().to_string()),
    );
    let mut gw = w.up();
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(gw.stop_with("TERM"), 0);
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    assert!(gone, "upstream {pid} outlived the gateway");
    let kinds: Vec<String> =
        audit_records(&w).iter().map(|r| r["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("gateway_started"));
    assert_eq!(kinds.last().map(String::as_str), Some("gateway_stopped"));
}
