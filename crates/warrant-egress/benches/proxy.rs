//! Latency the proxy adds, measured in one run on 127.0.0.1: N sequential GETs
//! to a local hyper server (a fresh connection each, `Connection: close`),
//! direct and through the proxy, interleaved; then N CONNECT tunnels carrying
//! one 64-byte echo round trip, against the same echo without the proxy; then
//! HTTPS, direct, through an opaque tunnel and through intercepted ones
//! (`tls/mod.rs`): per request on a kept-alive tunnel, and per tunnel set up.
//!
//! Run with `cargo bench -p warrant-egress --bench proxy`. Prints figures; it
//! asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Response;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use warrant_egress::{Destination, EgressConfig, EgressEvent, Gate, Verdict};

const N: usize = 2000;
const WARMUP: usize = 100;
const ECHO_BYTES: usize = 64;

/// Allows everything and keeps every event in memory, as a cheap audit log.
#[derive(Default)]
struct MemoryGate {
    events: Mutex<Vec<EgressEvent>>,
}

impl Gate for MemoryGate {
    type RecordError = std::convert::Infallible;

    async fn decide(&self, _destination: &Destination) -> Verdict {
        Verdict::Allow
    }

    async fn record(&self, event: EgressEvent) -> Result<(), Self::RecordError> {
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let upstream = start_upstream().await;
    let echo = start_echo().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let gate = Arc::new(MemoryGate::default());
    let shutdown = CancellationToken::new();
    let config = EgressConfig {
        allow_private: vec!["127.0.0.1/32".parse().unwrap()],
        ..EgressConfig::default()
    };
    let served = tokio::spawn(warrant_egress::serve(
        listener,
        "bench".to_owned(),
        config,
        Arc::clone(&gate),
        shutdown.clone(),
    ));

    let url = format!("http://{upstream}/");
    let (mut get_direct, mut get_proxied) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for i in 0..WARMUP + N {
        let direct = timed(get(upstream, "/")).await;
        let proxied = timed(get(proxy, &url)).await;
        if i >= WARMUP {
            get_direct.push(direct);
            get_proxied.push(proxied);
        }
    }
    let (mut echo_direct, mut echo_proxied) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for i in 0..WARMUP + N {
        let direct = timed(echo_round_trip(echo, None)).await;
        let proxied = timed(echo_round_trip(proxy, Some(echo))).await;
        if i >= WARMUP {
            echo_direct.push(direct);
            echo_proxied.push(proxied);
        }
    }
    shutdown.cancel();
    served.await.unwrap();

    println!(
        "warrant-egress proxy bench: N = {N} sequential per path (after {WARMUP} warm-up), 127.0.0.1"
    );
    println!("{:<38} {:>10} {:>10}", "path", "median", "p99");
    report("GET, new connection each", &mut get_direct, &mut get_proxied);
    report(&format!("CONNECT + {ECHO_BYTES} B echo"), &mut echo_direct, &mut echo_proxied);
    println!("gate events recorded: {}", gate.events.lock().unwrap().len());

    tls::run().await;
}

fn report(name: &str, direct: &mut [Duration], proxied: &mut [Duration]) {
    let (d50, d99) = (percentile(direct, 50), percentile(direct, 99));
    let (p50, p99) = (percentile(proxied, 50), percentile(proxied, 99));
    println!("{:<38} {:>10.1?} {:>10.1?}", format!("{name}, direct"), d50, d99);
    println!("{:<38} {:>10.1?} {:>10.1?}", format!("{name}, via proxy"), p50, p99);
    println!(
        "{:<38} {:>10.1?} {:>10.1?}   ratio {:.2}x median, {:.2}x p99",
        "  added by the proxy",
        p50.saturating_sub(d50),
        p99.saturating_sub(d99),
        p50.as_secs_f64() / d50.as_secs_f64(),
        p99.as_secs_f64() / d99.as_secs_f64(),
    );
}

fn percentile(samples: &mut [Duration], pct: usize) -> Duration {
    samples.sort_unstable();
    let index = (samples.len() * pct / 100).min(samples.len() - 1);
    samples[index]
}

async fn timed(work: impl Future<Output = ()>) -> Duration {
    let started = Instant::now();
    work.await;
    started.elapsed()
}

/// One GET on a fresh connection, read to the end.
async fn get(addr: SocketAddr, target: &str) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response));
}

/// Connects (through the proxy when `via` names the echo server), sends
/// 64 bytes and reads them back.
async fn echo_round_trip(addr: SocketAddr, via: Option<SocketAddr>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    if let Some(target) = via {
        let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "proxy closed");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    }
    let message = [42u8; ECHO_BYTES];
    stream.write_all(&message).await.unwrap();
    let mut back = [0u8; ECHO_BYTES];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(back, message);
}

async fn start_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let service = service_fn(|_req| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}
