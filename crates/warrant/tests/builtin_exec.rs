//! `warrant__exec`: policy judges every program a command would run (not
//! its first word), and what runs, runs in the sandbox on the workspace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use warrant_test_support::{Warrant, audit_records, client, wait_for_approval};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

const POLICY: &str = r#"
@id("all") permit (principal, action == Action::"call_tool", resource);

@id("no-downloads") @reason("commands may not download")
forbid (principal, action == Action::"call_tool", resource == Tool::"warrant__exec")
when { context has command && (context.command.programs.contains("curl")
       || context.command.programs.contains("wget")) };

@id("say-what-you-run") @reason("name the programs you run")
forbid (principal, action == Action::"call_tool", resource == Tool::"warrant__exec")
when { context has command && (context.command.dynamic || context.command.inline_code) };
"#;

fn exec(command: &str) -> Value {
    json!({"op": "call", "tool": "warrant__exec", "arguments": {"command": command}})
}

fn result(out: &Value, i: usize) -> (bool, String) {
    let r = &out["results"][i];
    (r["is_error"].as_bool().unwrap_or(true), r["text"].as_str().unwrap_or_default().to_owned())
}

fn doctor_ok(w: &Warrant) -> bool {
    let ok = w.run(&["doctor", "--json"]).json()["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["profile"] == "strict" && p["runs"] == true);
    if !ok {
        eprintln!("SKIP: the strict sandbox profile cannot start on this host");
    }
    ok
}

#[test]
fn commands_are_judged_by_everything_they_run_and_run_confined() {
    let w = Warrant::new(BIN);
    if !doctor_ok(&w) {
        return;
    }
    std::fs::write(w.home().join("policy/default.cedar"), POLICY).unwrap();
    let ws = w.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (_, token) = w.spawn_agent("builder", &["--workspace", ws.to_str().unwrap()]);
    let gw = w.up();
    let keys = w.home().join("keys");
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            exec("echo hi > out.txt && cat out.txt"),
            exec(&format!("cat {}/* ; ls /root; touch /usr/planted", keys.display())),
            exec("echo harmless | curl -s http://example.com"),
            exec("env sh -c 'wget -q http://example.com'"),
            exec("$PAYLOAD"),
            exec("python3 -c 'print(1)'"),
            exec("ls &&"),
            {"op": "call", "tool": "warrant__exec", "arguments": {"command": "sleep 20", "timeout_s": 1}},
        ]),
    );
    let (err, text) = result(&out, 0);
    let ran: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{out}"));
    assert!(!err && ran["exit_code"] == 0 && ran["stdout"] == "hi\n", "{text}");
    assert_eq!(std::fs::read_to_string(ws.join("out.txt")).unwrap(), "hi\n");

    let (_, text) = result(&out, 1);
    let confined: Value = serde_json::from_str(&text).unwrap();
    assert_ne!(confined["exit_code"], 0);
    let stderr = confined["stderr"].as_str().unwrap();
    assert!(stderr.contains("No such file") && stderr.contains("Read-only"), "{stderr}");
    assert!(!std::path::Path::new("/usr/planted").exists());

    for (i, rule) in
        [(2, "no-downloads"), (3, "no-downloads"), (4, "say-what-you-run"), (5, "say-what-you-run")]
    {
        let (err, text) = result(&out, i);
        assert!(err && text.contains(rule), "step {i}: {text}");
    }
    let (err, text) = result(&out, 6);
    assert!(err && text.contains("cannot be judged"), "{text}");
    let (err, text) = result(&out, 7);
    let slow: Value = serde_json::from_str(&text).unwrap();
    assert!(err && slow["timed_out"] == true, "{text}");

    // The decision record shows what policy saw.
    let records = audit_records(&w);
    let piped = records
        .iter()
        .find(|r| r["kind"] == "decision" && r["body"]["rules"] == json!(["no-downloads"]))
        .unwrap();
    assert_eq!(piped["body"]["command"]["programs"], json!(["curl", "echo"]));
    drop(gw);
}

#[test]
fn the_default_policy_asks_a_person_before_a_command_runs() {
    let w = Warrant::new(BIN);
    if !doctor_ok(&w) {
        return;
    }
    let ws = w.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (_, token) = w.spawn_agent("builder", &["--workspace", ws.to_str().unwrap()]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), token.clone());
    let waiting = std::thread::spawn(move || client(&url, Some(&t), &json!([exec("touch made")])));
    let approval = wait_for_approval(&w, "warrant__exec");
    assert!(!ws.join("made").exists(), "it ran before anyone approved");
    assert_eq!(w.run(&["approve", &approval, "--by", "alice"]).code, 0);
    let out = waiting.join().unwrap();
    assert!(!result(&out, 0).0, "{out}");
    assert!(ws.join("made").exists());
}
