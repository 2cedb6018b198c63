//! What leak prevention costs per call: `tools/call` of an echo tool with a
//! 4 KiB argument (scanned on the way out) and a 4 KiB result (scanned and
//! redacted on the way back), through the real `warrant up`, for a home
//! with no vault, a vault of 10 secrets and one of 1,000; and the same
//! client calling the upstream directly. All four are up at once and called
//! in turn, round by round; prints median and p99 and the differences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use rmcp::model::CallToolRequestParams;
use rmcp::service::{Peer, RoleClient, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::time::{Duration, Instant};
use warrant_test_support::{FixtureServer, Warrant};
use warrant_vault::{Binding, CredentialName, KdfParams, SecretValue, Vault};

const CALLS: usize = 2000;
const WARMUP: usize = 200;
const PASSPHRASE: &str = "bench passphrase";

fn text_4k() -> String {
    let line = "src/main.rs:42: warning: unused variable `config` -- consider prefixing it with an underscore\n";
    line.repeat(4096 / line.len() + 1)[..4096].to_owned()
}

/// A client session to `url`, as an agent with `token` when given.
async fn connect(url: &str, token: Option<&str>) -> rmcp::service::RunningService<RoleClient, ()> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(t) = token {
        config = config.auth_header(t);
    }
    ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap()
}

/// One `tools/call` of `tool` with the 4 KiB text; how long it took.
async fn call_once(peer: &Peer<RoleClient>, tool: &str, text: &str) -> Duration {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = serde_json::json!({"text": text}).as_object().cloned();
    let started = Instant::now();
    let result = peer.call_tool(params).await.unwrap();
    let elapsed = started.elapsed();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    elapsed
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A home whose vault holds `secrets` random 40-character credentials.
fn home(secrets: usize, upstream: &str) -> Warrant {
    let w = Warrant::new(env!("CARGO_BIN_EXE_warrant"));
    if secrets > 0 {
        let pass = SecretValue::from_string(PASSPHRASE.to_owned());
        let vault =
            Vault::create(&w.home().join("vault.db"), &pass, KdfParams::recommended()).unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..secrets {
            let value: String = (0..40)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    char::from(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            [(seed % 62) as usize],
                    )
                })
                .collect();
            let binding =
                Binding { hosts: vec![format!("api{i}.example.com")], ..Binding::default() };
            vault
                .add(
                    &CredentialName::new(&format!("cred{i}")).unwrap(),
                    &SecretValue::from_string(value),
                    binding,
                )
                .unwrap();
        }
        w.set_env("WARRANT_VAULT_PASSPHRASE", PASSPHRASE);
    }
    w.configure(&format!("[upstreams.fx]\nurl = {upstream:?}\nprotocol = \"2025-11-25\"\n"));
    w
}

fn main() {
    let upstream = FixtureServer::start(false);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Every path is up at once and called in turn, round by round, so they
    // share the machine's moments and their differences hold.
    let mut paths: Vec<(String, Option<(Warrant, String)>)> = vec![("direct".to_owned(), None)];
    for secrets in [0usize, 10, 1000] {
        let w = home(secrets, &upstream.url);
        let (_, token) = w.spawn_agent("bench", &["--ttl", "2h"]);
        let name = if secrets == 0 {
            "warrant, no vault".to_owned()
        } else {
            format!("warrant, {secrets} secrets")
        };
        paths.push((name, Some((w, token))));
    }
    let gateways: Vec<Option<warrant_test_support::Running>> =
        paths.iter().map(|(_, home)| home.as_ref().map(|(w, _)| w.up())).collect();
    let samples: Vec<Vec<Duration>> = rt.block_on(async {
        let mut sessions = Vec::new();
        for ((_, home), gateway) in paths.iter().zip(&gateways) {
            let session = match (home, gateway) {
                (Some((_, token)), Some(gw)) => connect(&gw.url, Some(token)).await,
                _ => connect(&upstream.url, None).await,
            };
            let tool = if home.is_some() { "fx__echo" } else { "echo" };
            sessions.push((session, tool));
        }
        let text = text_4k();
        let mut samples: Vec<Vec<Duration>> = paths.iter().map(|_| Vec::new()).collect();
        for round in 0..WARMUP + CALLS {
            for ((session, tool), samples) in sessions.iter().zip(samples.iter_mut()) {
                let took = call_once(session.peer(), tool, &text).await;
                if round >= WARMUP {
                    samples.push(took);
                }
            }
        }
        for (session, _) in sessions {
            let _ = session.cancel().await;
        }
        samples
    });
    drop(gateways);

    println!(
        "tools/call echo, 4 KiB argument and result, concurrency 1, {CALLS} calls per path, interleaved"
    );
    println!(
        "{:<22} {:>10} {:>10} {:>14} {:>14}",
        "path", "p50_us", "p99_us", "vs_direct_p50", "vs_novault_p50"
    );
    let mut sorted = samples;
    for s in &mut sorted {
        s.sort_unstable();
    }
    let direct = pct(&sorted[0], 0.5);
    let no_vault = pct(&sorted[1], 0.5);
    for (i, ((name, _), v)) in paths.iter().zip(&sorted).enumerate() {
        let (p50, p99) = (pct(v, 0.5), pct(v, 0.99));
        let vs_no_vault =
            if i >= 2 { format!("{:+.1}", us(p50) - us(no_vault)) } else { "-".into() };
        println!(
            "{:<22} {:>10.1} {:>10.1} {:>+14.1} {:>14}",
            name,
            us(p50),
            us(p99),
            us(p50) - us(direct),
            vs_no_vault
        );
    }
}
