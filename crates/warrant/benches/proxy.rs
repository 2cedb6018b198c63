//! Added latency of `tools/call` through Warrant versus the same client
//! calling the same upstream directly, measured in one run.
//!
//! The upstream is rmcp's Streamable HTTP server (in this process); the client
//! is rmcp's client (2025-11-25, one session per concurrent caller); Warrant is
//! the real `warrant up` binary (another process) with the default policy,
//! audit durability `process`, forwarding to that upstream over loopback.
//! Prints median and p99 per path and concurrency, and the difference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use rmcp::model::CallToolRequestParams;
use rmcp::service::{Peer, RoleClient, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::time::{Duration, Instant};
use warrant_test_support::{FixtureServer, Warrant};

const CALLS_PER_CALLER: [(usize, usize); 2] = [(1, 3000), (32, 150)];
const WARMUP: usize = 200;

async fn connect(
    url: &str,
    token: Option<&str>,
) -> (rmcp::service::RunningService<RoleClient, ()>, Peer<RoleClient>) {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(t) = token {
        config = config.auth_header(t);
    }
    let running = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    let peer = running.peer().clone();
    (running, peer)
}

async fn call(peer: &Peer<RoleClient>, tool: &str) -> Duration {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = serde_json::json!({"a": 1, "b": 2}).as_object().cloned();
    let started = Instant::now();
    let result = peer.call_tool(params).await.unwrap();
    let elapsed = started.elapsed();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    elapsed
}

/// A session with a stdio server this process starts.
async fn connect_stdio(
    argv: &[String],
) -> (rmcp::service::RunningService<RoleClient, ()>, Peer<RoleClient>) {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    let running = ().serve(rmcp::transport::TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let peer = running.peer().clone();
    (running, peer)
}

/// How the client reaches its server.
#[derive(Clone, Copy)]
enum Target<'a> {
    Http { url: &'a str, token: Option<&'a str> },
    Stdio(&'a [String]),
}

/// Latencies of `calls` calls by each of `callers` concurrent sessions.
async fn measure(target: Target<'_>, tool: &str, callers: usize, calls: usize) -> Vec<Duration> {
    let mut sessions = Vec::new();
    for _ in 0..callers {
        sessions.push(match target {
            Target::Http { url, token } => connect(url, token).await,
            Target::Stdio(argv) => connect_stdio(argv).await,
        });
    }
    for (_, peer) in &sessions {
        for _ in 0..WARMUP / callers.max(1) {
            call(peer, tool).await;
        }
    }
    let tasks: Vec<_> = sessions
        .iter()
        .map(|(_, peer)| {
            let peer = peer.clone();
            let tool = tool.to_owned();
            tokio::spawn(async move {
                let mut v = Vec::with_capacity(calls);
                for _ in 0..calls {
                    v.push(call(&peer, &tool).await);
                }
                v
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    for (running, _) in sessions {
        let _ = running.cancel().await;
    }
    all.sort_unstable();
    all
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    // The upstream runs in its own process when its binary is built (as it
    // would in use, and as the gateway does), else in this one.
    let fixture_bin =
        std::path::Path::new(env!("CARGO_BIN_EXE_warrant")).with_file_name("mcp-fixture-server");
    let mut fixture_process = None;
    let upstream = if fixture_bin.exists() {
        let mut child = std::process::Command::new(&fixture_bin)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        fixture_process = Some(child);
        println!("upstream: mcp-fixture-server, in its own process");
        FixtureServer { url: line.trim().strip_prefix("listening ").unwrap().to_owned() }
    } else {
        println!(
            "upstream: in this process (`cargo build --release -p warrant-test-support` runs it in its own)"
        );
        FixtureServer::start(false)
    };
    let w = Warrant::new(env!("CARGO_BIN_EXE_warrant"));
    w.configure(&format!("[upstreams.fx]\nurl = {:?}\nprotocol = \"2025-11-25\"\n", upstream.url));
    w.add_fixture_upstream("py", "risk_server.py", "protocol = \"2025-11-25\"");
    let (_, token) = w.spawn_agent("bench", &["--ttl", "2h"]);
    let gw = w.up();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "tools/call latency, direct vs through warrant (rmcp client, rmcp upstream, loopback HTTP)"
    );
    println!(
        "{:>11} {:>8} {:>11} {:>11} {:>11} {:>11} {:>12} {:>12} {:>7}",
        "concurrency",
        "calls",
        "direct_p50",
        "direct_p99",
        "warrant_p50",
        "warrant_p99",
        "added_p50",
        "added_p99",
        "ratio"
    );
    let mut seen = 0;
    for (callers, calls) in CALLS_PER_CALLER {
        let direct = rt.block_on(measure(
            Target::Http { url: &upstream.url, token: None },
            "add",
            callers,
            calls,
        ));
        let through = rt.block_on(measure(
            Target::Http { url: &gw.url, token: Some(&token) },
            "fx__add",
            callers,
            calls,
        ));
        row(callers, &direct, &through);
        seen = print_inside(&w, seen);
    }
    println!(
        "upstream over stdio (the official Python SDK's risk_server.py; direct: the client starts it itself)"
    );
    let argv = vec![
        warrant_test_support::python().display().to_string(),
        warrant_test_support::fixture("risk_server.py").display().to_string(),
    ];
    let direct = rt.block_on(measure(Target::Stdio(&argv), "add", 1, 1000));
    let through = rt.block_on(measure(
        Target::Http { url: &gw.url, token: Some(&token) },
        "py__add",
        1,
        1000,
    ));
    row(1, &direct, &through);
    print_inside(&w, seen);
    drop(gw);
    if let Some(mut child) = fixture_process {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn row(callers: usize, direct: &[Duration], through: &[Duration]) {
    let (d50, d99, t50, t99) =
        (pct(direct, 0.5), pct(direct, 0.99), pct(through, 0.5), pct(through, 0.99));
    println!(
        "{:>11} {:>8} {:>9.0}µs {:>9.0}µs {:>9.0}µs {:>9.0}µs {:>10.0}µs {:>10.0}µs {:>7.2}",
        callers,
        direct.len(),
        us(d50),
        us(d99),
        us(t50),
        us(t99),
        us(t50) - us(d50),
        us(t99) - us(d99),
        us(t50) / us(d50)
    );
}

/// Where the time went inside Warrant for the calls recorded after record
/// `after`, from its own audit records; returns the new head.
fn print_inside(w: &Warrant, after: u64) -> u64 {
    let records = warrant_test_support::audit_records(w);
    let mut before: Vec<u64> = Vec::new();
    let mut upstream_us: Vec<u64> = Vec::new();
    for r in
        records.iter().filter(|r| r["seq"].as_u64().unwrap() > after && r["kind"] == "call_result")
    {
        before.push(r["body"]["before_us"].as_u64().unwrap_or(0));
        upstream_us.push(r["body"]["upstream_us"].as_u64().unwrap_or(0));
    }
    before.sort_unstable();
    upstream_us.sort_unstable();
    let p = |v: &[u64], q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{:>11}   inside warrant: before forwarding p50 {}µs p99 {}µs (validation, policy, decision commit); upstream hop p50 {}µs p99 {}µs",
        "",
        p(&before, 0.5),
        p(&before, 0.99),
        p(&upstream_us, 0.5),
        p(&upstream_us, 0.99)
    );
    records.last().and_then(|r| r["seq"].as_u64()).unwrap_or(after)
}
