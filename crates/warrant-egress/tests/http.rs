//! Plain HTTP forwarding, and what the proxy does with bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    AGENT, UPSTREAM_BODY, exchange, local_config, proxy_get, read_to_close, start_proxy,
    start_upstream,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use warrant_egress::{EgressConfig, EgressEvent, RequestKind, Verdict};

#[tokio::test]
async fn get_is_forwarded_in_origin_form_without_hop_by_hop_headers() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(local_config()).await;
    let port = upstream.addr.port();

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!(
        "POST http://127.0.0.1:{port}/items?q=1 HTTP/1.1\r\n\
         Host: evil.example\r\n\
         Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n\
         Proxy-Connection: keep-alive\r\n\
         Connection: close, X-Private\r\n\
         X-Private: do-not-forward\r\n\
         Keep-Alive: timeout=5\r\n\
         TE: trailers\r\n\
         Upgrade: websocket\r\n\
         X-Kept: kept\r\n\
         Content-Length: 5\r\n\r\nhello"
    );
    let response = exchange(stream, &request).await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, UPSTREAM_BODY);
    assert!(response.has_header("x-upstream"));
    assert!(!response.has_header("x-hop"), "Connection-named response header leaked: {response:?}");
    assert!(!response.has_header("keep-alive"), "{response:?}");

    let seen = upstream.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/items?q=1", "upstream must see origin-form");
    assert_eq!(seen.headers["host"], format!("127.0.0.1:{port}"));
    assert_eq!(seen.headers["x-kept"], "kept");
    assert_eq!(seen.body, b"hello");
    for name in [
        "proxy-authorization",
        "proxy-connection",
        "connection",
        "x-private",
        "keep-alive",
        "te",
        "upgrade",
    ] {
        assert!(
            !seen.headers.contains_key(name),
            "`{name}` reached the upstream: {:?}",
            seen.headers
        );
    }

    let decided = proxy.gate.decided();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].agent, AGENT);
    assert_eq!(decided[0].host, "127.0.0.1");
    assert_eq!(
        decided[0].kind,
        RequestKind::Http { method: "POST".into(), path: "/items?q=1".into() }
    );
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, request } = finished else { unreachable!() };
    assert_eq!(request.addresses, vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(outcome.status, Some(200));
    assert_eq!(outcome.bytes_up, 5);
    assert_eq!(outcome.bytes_down, UPSTREAM_BODY.len() as u64);
    assert_eq!(outcome.error, None);
    let events = proxy.gate.events();
    assert!(
        matches!(&events[0], EgressEvent::Decided { verdict: Verdict::Allow, .. }),
        "{events:?}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn large_response_streams_whole_with_the_smallest_header_limit() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(EgressConfig { max_header_bytes: 0, ..local_config() }).await;
    let response = proxy_get(proxy.addr(), &format!("http://{}/big", upstream.addr)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), common::BIG_BODY_LEN);
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    assert_eq!((outcome.bytes_down, outcome.error), (common::BIG_BODY_LEN as u64, None));
    proxy.stop().await;
}

#[tokio::test]
async fn origin_form_request_is_refused_with_400_and_recorded() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(local_config()).await;
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let host = upstream.addr;
    let response = exchange(
        stream,
        &format!("GET /path HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(response.body.contains("not a proxy request"), "{response:?}");
    assert!(upstream.seen.lock().unwrap().is_empty());
    assert!(proxy.gate.decided().is_empty());
    let refused = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Refused(_))).await;
    let EgressEvent::Refused(refusal) = refused else { unreachable!() };
    assert_eq!((refusal.status, refusal.target.as_str()), (Some(400), "/path"));
    proxy.stop().await;
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let proxy = start_proxy(EgressConfig { max_header_bytes: 8 * 1024, ..local_config() }).await;
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let big = "a".repeat(16 * 1024);
    let response =
        exchange(stream, &format!("GET http://example.com/ HTTP/1.1\r\nX-Big: {big}\r\n\r\n"))
            .await;
    assert_eq!(response.status, 431, "{response:?}");
    assert!(proxy.gate.decided().is_empty());
    proxy.gate.wait_for(|e| matches!(e, EgressEvent::Refused(r) if r.status == Some(431))).await;
    proxy.stop().await;
}

#[tokio::test]
async fn garbage_gets_400_and_the_proxy_keeps_serving() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(local_config()).await;
    for garbage in [
        "\x00\x01\x02\x7f garbage \r\n\r\n",
        "GET http://[::1 HTTP/1.1\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
    ] {
        let stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let response = exchange(stream, garbage).await;
        assert_eq!(response.status, 400, "{garbage:?} → {response:?}");
    }
    let response = proxy_get(proxy.addr(), &format!("http://{}/", upstream.addr)).await;
    assert_eq!((response.status, response.body.as_str()), (200, UPSTREAM_BODY));
    proxy.stop().await;
}

#[tokio::test]
async fn stalled_client_is_cut_off_while_another_is_served() {
    let upstream = start_upstream().await;
    let timeout = Duration::from_secs(1);
    let proxy = start_proxy(EgressConfig { header_read_timeout: timeout, ..local_config() }).await;

    let started = Instant::now();
    let mut stalled = TcpStream::connect(proxy.addr()).await.unwrap();
    stalled.write_all(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();

    // Another client is served while the first one stalls.
    let response = proxy_get(proxy.addr(), &format!("http://{}/", upstream.addr)).await;
    assert_eq!(response.status, 200);
    assert!(started.elapsed() < timeout, "second client waited for the stalled one");

    let leftover = read_to_close(&mut stalled).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout - Duration::from_millis(50), "closed too early: {elapsed:?}");
    assert!(elapsed < timeout + Duration::from_secs(3), "closed too late: {elapsed:?}");
    assert!(!String::from_utf8_lossy(&leftover).contains(" 200 "), "stalled request was served");
    assert_eq!(proxy.gate.decided().len(), 1, "only the complete request reached the gate");
    proxy.stop().await;
}

#[tokio::test]
async fn upstream_that_refuses_gives_502_and_is_recorded() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = start_proxy(local_config()).await;
    let response = proxy_get(proxy.addr(), &format!("http://{closed}/")).await;
    assert_eq!(response.status, 502, "{response:?}");
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    assert_eq!(outcome.status, Some(502));
    assert!(outcome.error.unwrap().contains("failed"));
    proxy.stop().await;
}

#[tokio::test]
async fn upstream_that_hangs_gives_504_after_idle_timeout() {
    let hanging = common::start_sentinel("127.0.0.1:0", || {}).await;
    let idle = Duration::from_millis(300);
    let proxy = start_proxy(EgressConfig { idle_timeout: idle, ..local_config() }).await;
    let started = Instant::now();
    let response = proxy_get(proxy.addr(), &format!("http://{}/", hanging.addr)).await;
    assert_eq!(response.status, 504, "{response:?}");
    assert!(started.elapsed() >= idle);
    assert_eq!(hanging.accepts(), 1);
    proxy.stop().await;
}

#[tokio::test]
async fn origin_form_requests_go_to_the_gateway_when_one_is_configured() {
    let gateway = start_upstream().await;
    let proxy = start_proxy(EgressConfig { gateway: Some(gateway.addr), ..local_config() }).await;
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let response = exchange(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:3128\r\nOrigin: http://evil.example\r\n\
         Authorization: Bearer t\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, UPSTREAM_BODY);
    let seen = gateway.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/mcp");
    // The gateway sees its own Host, no Origin, and the agent's credential.
    assert_eq!(seen[0].headers["host"], gateway.addr.to_string());
    assert!(!seen[0].headers.contains_key("origin"));
    assert_eq!(seen[0].headers["authorization"], "Bearer t");
    assert_eq!(seen[0].body, b"{}");
    // Not an egress: the gate was not asked.
    assert!(proxy.gate.decided().is_empty());
    // Proxy requests still go through the checks.
    let refused = proxy_get(proxy.addr(), "http://169.254.169.254/latest/meta-data/").await;
    assert_eq!(refused.status, 403);
}
