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

/// The parent pid of process `pid`, from `/proc/PID/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces; it ends at the last ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

/// Whether `needle` is anywhere in the readable memory of process `pid`.
/// `None` when the memory cannot be read at all (not root, or gone).
fn memory_holds(pid: u32, needle: &[u8]) -> Option<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut read_any = false;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) =
            (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        let mut region = vec![0u8; usize::try_from(end - start).unwrap()];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue;
        }
        read_any = true;
        if region.windows(needle.len()).any(|w| w == needle) {
            return Some(true);
        }
    }
    read_any.then_some(false)
}

#[test]
fn exec_is_launched_by_a_helper_that_never_held_the_keys() {
    let w = Warrant::new(BIN);
    if !doctor_ok(&w) {
        return;
    }
    std::fs::write(w.home().join("policy/default.cedar"), POLICY).unwrap();
    let ws = w.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (_, token) = w.spawn_agent("builder", &["--workspace", ws.to_str().unwrap()]);
    let gw = w.up();
    // The audit key's seed, as the gateway holds it in memory (raw bytes).
    let hex_seed = std::fs::read_to_string(w.home().join("keys/audit.key")).unwrap();
    let seed = hex::decode(hex_seed.trim()).unwrap();

    let (url, t) = (gw.url.clone(), token.clone());
    let call = std::thread::spawn(move || client(&url, Some(&t), &json!([exec("sleep 3")])));
    // The helper is the gateway's child running `warrant __sandbox-helper`;
    // the sandbox's init is the helper's child, never the gateway's.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (helper, init) = loop {
        let helper = children_of(gw.pid()).into_iter().find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == b"__sandbox-helper"))
        });
        if let Some(helper) = helper
            && let Some(init) = children_of(helper).first().copied()
        {
            break (helper, init);
        }
        assert!(std::time::Instant::now() < deadline, "no sandbox appeared under a helper");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        !children_of(gw.pid()).iter().any(|pid| !children_of(*pid).is_empty() && *pid != helper),
        "a sandbox was launched by the gateway itself"
    );
    match memory_holds(gw.pid(), &seed) {
        // The control: the scan finds the key where it is.
        Some(found) => assert!(found, "the gateway's memory should hold the audit key's seed"),
        None => {
            eprintln!("SKIP: process memory cannot be read here (needs root)");
            return;
        }
    }
    assert_eq!(memory_holds(helper, &seed), Some(false), "the helper holds the audit key");
    if let Some(found) = memory_holds(init, &seed) {
        assert!(!found, "the sandbox's init holds the audit key");
    }
    let out = call.join().unwrap();
    let (err, text) = result(&out, 0);
    assert!(!err, "{text}");
}
