//! The audit log as the real gateway writes it: verified when intact, named
//! at the first bad record when edited, complete after a SIGKILL, and, against
//! the witness the gateway keeps beside the home (or one exported elsewhere),
//! not cut or replaced unnoticed.
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

/// A copy of the home and of the witness beside it.
fn copy_home(w: &Warrant) -> Warrant {
    let copy = Warrant { bin: w.bin.clone(), dir: tempfile_dir(), env: Default::default() };
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(w.home())
        .arg(witness(w))
        .arg(copy.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

/// The witness the gateway keeps beside the home.
fn witness(w: &Warrant) -> std::path::PathBuf {
    w.dir.path().join("home-witness.jsonl")
}

fn sql(w: &Warrant, sql: &str) {
    Connection::open(w.home().join("audit.db")).unwrap().execute_batch(sql).unwrap();
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The log's last seq, its hash, and how many checkpoints it has.
fn head(w: &Warrant) -> (i64, String, i64) {
    Connection::open(w.home().join("audit.db"))
        .unwrap()
        .query_row(
            "SELECT seq, hash, (SELECT count(*) FROM checkpoints) FROM records
             ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
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
    assert!(ok.stdout.contains("seal them all"), "{}", ok.stdout);

    let edited =
        tamper(&w, "UPDATE records SET body = replace(body, 'allow', 'deny') WHERE seq = 6");
    assert!(edited.stderr.contains('6'), "{}", edited.stderr);
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
    // The log's first record, from when the home was made, says where its
    // witness is; the gateway, with the same witness, did not say it again.
    assert_eq!(kinds.first().map(String::as_str), Some("audit_witness"));
    assert_eq!(kinds.get(1).map(String::as_str), Some("gateway_started"));
    assert_eq!(kinds.iter().filter(|k| *k == "audit_witness").count(), 1);
    assert_eq!(kinds.last().map(String::as_str), Some("gateway_stopped"));
}

#[test]
fn the_gateway_witnesses_its_shutdown_seal_beside_the_home() {
    let w = used_home();
    let exported = w.run(&["audit", "export-witness"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let text = std::fs::read_to_string(witness(&w)).unwrap();
    assert_eq!(text.lines().last(), Some(exported.stdout.trim()), "the seal is the last line");
    let head: i64 = Connection::open(w.home().join("audit.db"))
        .unwrap()
        .query_row("SELECT max(seq) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(exported.json()["seq"], head, "sealed up to the last record");
    let ok = w.run(&["audit", "verify"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("home-witness.jsonl` (declared by the log)"), "{}", ok.stdout);
}

#[test]
fn cutting_the_tail_with_its_shutdown_seal_is_reported_against_the_witness() {
    let w = used_home();
    let cut = tamper(
        &w,
        "DELETE FROM checkpoints WHERE id = (SELECT max(id) FROM checkpoints);
         DELETE FROM records WHERE seq > (SELECT max(seq) - 3 FROM records);",
    );
    assert!(cut.stderr.contains("records were cut"), "{}", cut.stderr);
}

#[test]
fn cutting_records_and_checkpoints_down_to_empty_is_reported_against_the_witness() {
    let w = used_home();
    let emptied = tamper(&w, "DELETE FROM checkpoints; DELETE FROM records;");
    assert!(emptied.stderr.contains("ends at seq 0"), "{}", emptied.stderr);
}

#[test]
fn cutting_the_tail_and_deleting_the_default_witness_is_reported_as_a_removed_witness() {
    // The red team's cut: the shutdown seal and the records it sealed go,
    // and so does the witness that remembers them. The log still says, in
    // its first record, that its checkpoints were copied there.
    let w = used_home();
    sql(
        &w,
        "DELETE FROM checkpoints WHERE id = (SELECT max(id) FROM checkpoints);
         DELETE FROM records WHERE seq > (SELECT max(seq) - 3 FROM records);",
    );
    std::fs::remove_file(witness(&w)).unwrap();
    let out = w.run(&["audit", "verify"]);
    assert_eq!(out.code, 2, "the removed witness went unnoticed: {}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the witness was removed"), "{}", out.stderr);
    assert!(out.stderr.contains("home-witness.jsonl"), "{}", out.stderr);

    // Emptied rather than deleted, it is refused too.
    std::fs::write(witness(&w), "").unwrap();
    let out = w.run(&["audit", "verify"]);
    assert_eq!(out.code, 2, "the emptied witness went unnoticed: {}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the witness was emptied"), "{}", out.stderr);
}

#[test]
fn a_witness_cut_back_behind_the_log_is_reported() {
    let w = used_home();
    let text = std::fs::read_to_string(witness(&w)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    let kept = lines[..lines.len() - 1].join("\n");
    std::fs::write(witness(&w), format!("{kept}\n")).unwrap();
    let out = w.run(&["audit", "verify"]);
    assert_eq!(out.code, 2, "the cut witness went unnoticed: {}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the witness was cut"), "{}", out.stderr);
}

#[test]
fn a_log_cut_to_empty_with_its_witness_deleted_is_refused() {
    let w = used_home();
    sql(&w, "DELETE FROM checkpoints; DELETE FROM records;");
    std::fs::remove_file(witness(&w)).unwrap();
    let out = w.run(&["audit", "verify"]);
    assert_eq!(out.code, 2, "the emptied log went unnoticed: {}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("it was emptied"), "{}", out.stderr);
}

#[test]
fn another_homes_database_swapped_in_with_its_public_key_is_refused() {
    let w = used_home();
    let other = used_home();
    let copy = copy_home(&w);
    for file in ["audit.db", "keys/audit.pub"] {
        std::fs::copy(other.home().join(file), copy.home().join(file)).unwrap();
    }
    let out = copy.run(&["audit", "verify"]);
    assert_eq!(out.code, 2, "the swap went unnoticed: {}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("replaced together with its key"), "{}", out.stderr);
}

#[test]
fn a_witness_and_key_kept_elsewhere_catch_a_swap_of_the_whole_home() {
    // The attacker replaces everything the operator's uid can write here:
    // the home and the witness beside it. What the operator exported to a
    // place out of their reach still names the first log.
    let w = used_home();
    let safe = tempfile_dir();
    let (kept, key) = (safe.path().join("witness.jsonl"), safe.path().join("audit.pub"));
    std::fs::write(&kept, w.run(&["audit", "export-witness"]).stdout).unwrap();
    std::fs::copy(w.home().join("keys/audit.pub"), &key).unwrap();
    let other = used_home();
    std::fs::remove_dir_all(w.home()).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(other.home())
        .arg(witness(&other))
        .arg(w.dir.path())
        .status()
        .unwrap();
    assert!(copied.success());
    assert_eq!(w.run(&["audit", "verify"]).code, 0, "the default witness was swapped too");

    let (kept, key) = (kept.to_str().unwrap(), key.to_str().unwrap());
    let out = w.run(&["audit", "verify", "--witness", kept]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("replaced together with its key"), "{}", out.stderr);
    let out = w.run(&["audit", "verify", "--witness", kept, "--public-key", key]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    // Even the home's own key put back, the log is not the witnessed one.
    std::fs::copy(key, w.home().join("keys/audit.pub")).unwrap();
    let out = w.run(&["audit", "verify", "--witness", kept, "--public-key", key]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}

#[test]
fn records_after_the_latest_witnessed_checkpoint_can_still_be_cut_as_documented() {
    // SIGKILL leaves no seal: what came after the last periodic checkpoint
    // is in no witness, and cutting it is not detected.
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("worker", &[]);
    let mut gw = w.up();
    let calls = json!([{"op": "call", "tool": "risk__add", "arguments": {"a": 1, "b": 1}}]);
    assert_eq!(client(&gw.url, Some(&token), &calls)["ok"], true);
    gw.stop_with("KILL");
    let sealed: Option<i64> = Connection::open(w.home().join("audit.db"))
        .unwrap()
        .query_row("SELECT max(seq) FROM checkpoints", [], |r| r.get(0))
        .unwrap();
    sql(&w, &format!("DELETE FROM records WHERE seq > {}", sealed.unwrap_or(0)));
    let out = w.run(&["audit", "verify"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn verify_says_in_sentences_what_it_checked() {
    let w = used_home();
    let (seq, _, checkpoints) = head(&w);
    let witness_lines = std::fs::read_to_string(witness(&w)).unwrap().lines().count();
    let ok = w.run(&["audit", "verify"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let expected = format!(
        "audit log intact: {seq} records, each chained to the one before it; {checkpoints} \
         checkpoints signed by the audit key seal them all\n\
         witness `{}` (declared by the log): {witness_lines} checkpoints up to record {seq}, all \
         found in the log; it covers every record\n",
        witness(&w).display()
    );
    assert_eq!(ok.stdout, expected);
    assert_eq!(ok.stderr, "", "nothing to warn about");
}

#[test]
fn a_failed_verify_names_the_record_and_what_is_wrong_with_it() {
    let w = used_home();
    let edited = tamper(&w, "UPDATE records SET body = body || ' ' WHERE seq = 6");
    assert_eq!(edited.code, 2, "{}", edited.stderr);
    let reason = "warrant: audit verification failed: audit record 6 is not as written: hash \
                  does not match the record's contents";
    assert!(edited.stderr.lines().any(|line| line == reason), "{}", edited.stderr);
    assert_eq!(edited.stdout, "", "no verdict of intact, and no JSON unless asked");
}

#[test]
fn verify_json_has_the_documented_fields_for_an_intact_and_a_tampered_log() {
    let w = used_home();
    let (seq, hash, checkpoints) = head(&w);
    let witness_lines = std::fs::read_to_string(witness(&w)).unwrap().lines().count();
    let out = w.run(&["audit", "verify", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let witness_path = witness(&w).display().to_string();
    assert_eq!(
        v,
        json!({
            "ok": true,
            "log": {
                "path": w.home().join("audit.db"),
                "records": seq,
                "head_hash": hash,
                "checkpoints": checkpoints,
                "last_checkpoint_seq": seq,
                "unsealed_records": 0,
            },
            "witnesses": [{
                "path": witness_path,
                "declared": true,
                "lines": witness_lines,
                "witnessed_seq": seq,
                "unwitnessed_records": 0,
                "torn_tail": false,
            }],
            "declarations": [{
                "seq": 1,
                "ts_ms": v["declarations"][0]["ts_ms"],
                "path": witness_path,
                "required": false,
                "written": true,
            }],
            "missing_witness": null,
        })
    );
    assert!(v["declarations"][0]["ts_ms"].as_i64().is_some_and(|ts| ts > 0), "{v}");

    let copy = copy_home(&w);
    let edit = "UPDATE records SET body = body || ' ' WHERE seq = 6";
    Connection::open(copy.home().join("audit.db")).unwrap().execute_batch(edit).unwrap();
    let out = copy.run(&["audit", "verify", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(
        out.json(),
        json!({"ok": false, "error": {
            "kind": "record_tampered",
            "seq": 6,
            "checkpoint": null,
            "path": null,
            "message": "audit record 6 is not as written: hash does not match the record's contents",
        }})
    );
    assert!(out.stderr.contains("audit verification failed: audit record 6"), "{}", out.stderr);

    std::fs::remove_file(witness(&w)).unwrap();
    let out = w.run(&["audit", "verify", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let error = &out.json()["error"];
    assert_eq!((&error["kind"], &error["path"]), (&json!("witness_removed"), &json!(witness_path)));
}
