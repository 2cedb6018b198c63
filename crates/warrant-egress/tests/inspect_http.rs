//! Plain-HTTP requests the gate inspects: buffered, rewritten or blocked
//! before anything is connected; and left streaming when it does not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{
    BLOCK_MARKER, FilterMode, PLACEHOLDER, SECRET, UPSTREAM_BODY, exchange, local_config,
    reflection, start_proxy, start_sentinel, start_upstream,
};
use tokio::net::TcpStream;
use warrant_egress::{EgressConfig, EgressEvent, RequestKind};

#[tokio::test]
async fn inspected_request_is_buffered_and_rewritten_with_the_new_length() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(local_config()).await;
    proxy.gate.inspect.store(true, Ordering::SeqCst);
    let base = format!("http://{}", upstream.addr);

    let body = format!("token={PLACEHOLDER}");
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!(
        "POST {base}/form?key={PLACEHOLDER} HTTP/1.1\r\nHost: ignored\r\n\
         Authorization: Bearer {PLACEHOLDER}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = exchange(stream, &request).await;
    assert_eq!((response.status, response.body.as_str()), (200, UPSTREAM_BODY), "{response:?}");

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let chunk = format!("token={PLACEHOLDER}");
    let request = format!(
        "PUT {base}/chunked HTTP/1.1\r\nHost: ignored\r\nTransfer-Encoding: chunked\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n\
         3\r\nab&\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let response = exchange(stream, &request).await;
    // The proxy answered the client's `Expect` itself, then relayed the 200.
    assert_eq!(response.status, 100, "{response:?}");
    assert!(response.body.starts_with("HTTP/1.1 200 OK"), "{response:?}");

    let seen = upstream.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].uri, format!("/form?key={SECRET}"));
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {SECRET}"));
    let swapped = format!("token={SECRET}");
    assert_eq!(seen[0].body, swapped.as_bytes());
    assert_eq!(seen[0].headers["content-length"], swapped.len().to_string());
    let swapped = format!("ab&token={SECRET}");
    assert_eq!(seen[1].body, swapped.as_bytes());
    assert_eq!(seen[1].headers["content-length"], swapped.len().to_string());
    assert!(!seen[1].headers.contains_key("transfer-encoding"));
    assert!(!seen[1].headers.contains_key("expect"));

    let inspected = proxy.gate.inspected();
    assert_eq!(inspected.len(), 2);
    assert_eq!(
        inspected[0].kind,
        RequestKind::Http { method: "POST".into(), path: format!("/form?key={PLACEHOLDER}") }
    );
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    // Counted as the client sent it.
    assert_eq!((outcome.status, outcome.bytes_up), (Some(200), body.len() as u64));
    proxy.stop().await;
}

#[tokio::test]
async fn blocked_request_gets_403_and_nothing_is_connected() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let proxy = start_proxy(local_config()).await;
    proxy.gate.inspect.store(true, Ordering::SeqCst);

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!(
        "GET http://{}/x HTTP/1.1\r\nX-Note: {BLOCK_MARKER}\r\nConnection: close\r\n\r\n",
        sentinel.addr
    );
    let response = exchange(stream, &request).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(response.body, "warrant: credential heading to the wrong host\n");
    assert!(response.has_header("x-warrant-egress"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sentinel.accepts(), 0, "a blocked request was connected");

    let events = proxy.gate.events();
    let blocked = events.iter().find(|e| matches!(e, EgressEvent::Blocked { .. })).unwrap();
    let EgressEvent::Blocked { request, status, reason, leak } = blocked else { unreachable!() };
    assert_eq!(request.kind, RequestKind::Http { method: "GET".into(), path: "/x".into() });
    assert_eq!((*status, reason.as_str()), (403, "credential heading to the wrong host"));
    assert!(*leak, "the gate's leak flag is passed on");
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    assert_eq!(outcome.status, Some(403));
    assert!(outcome.error.unwrap().starts_with("blocked: "));
    proxy.stop().await;
}

#[tokio::test]
async fn body_over_the_limit_gets_413_declared_or_chunked() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let config = EgressConfig { max_inspected_body: 100, ..local_config() };
    let proxy = start_proxy(config).await;
    proxy.gate.inspect.store(true, Ordering::SeqCst);
    let url = format!("http://{}/up", sentinel.addr);
    let big = "b".repeat(101);

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request =
        format!("POST {url} HTTP/1.1\r\nContent-Length: 101\r\nConnection: close\r\n\r\n{big}");
    let response = exchange(stream, &request).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.body.contains("cannot be inspected"), "{response:?}");

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!(
        "POST {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         32\r\n{}\r\n33\r\n{}\r\n0\r\n\r\n",
        &big[..50],
        &big[..51]
    );
    let response = exchange(stream, &request).await;
    assert_eq!(response.status, 413, "{response:?}");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sentinel.accepts(), 0);
    let blocks = proxy
        .gate
        .events()
        .into_iter()
        .filter(|e| matches!(e, EgressEvent::Blocked { status: 413, .. }))
        .count();
    assert_eq!(blocks, 2);
    proxy.stop().await;
}

#[tokio::test]
async fn uninspected_request_streams_as_sent() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(local_config()).await;
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!(
        "POST http://{}/s HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Key: {PLACEHOLDER}\r\n\
         Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        upstream.addr
    );
    let response = exchange(stream, &request).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = upstream.seen.lock().unwrap().clone();
    assert_eq!(seen[0].body, b"hello");
    assert_eq!(seen[0].headers["x-key"], PLACEHOLDER);
    // Streamed: still chunked, no length computed by buffering.
    assert_eq!(seen[0].headers["transfer-encoding"], "chunked");
    assert!(!seen[0].headers.contains_key("content-length"));
    assert!(proxy.gate.inspected().is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn the_response_to_an_inspected_request_goes_through_the_gates_filter() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(local_config()).await;
    proxy.gate.inspect.store(true, Ordering::SeqCst);
    *proxy.gate.filter.lock().unwrap() = FilterMode::MaskSecret;
    let base = format!("http://{}", upstream.addr);

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!(
        "GET {base}/reflect HTTP/1.1\r\nHost: ignored\r\nAuthorization: {PLACEHOLDER}\r\n\
         Connection: close\r\n\r\n"
    );
    let response = exchange(stream, &request).await;
    assert_eq!(response.status, 200, "{response:?}");
    let masked = "*".repeat(SECRET.len());
    assert_eq!(response.body, String::from_utf8(reflection(&masked)).unwrap());
    assert!(response.head.contains(&format!("x-echo: {masked}")), "{}", response.head);
    // The upstream's reason phrase quoted it too: the client gets the
    // standard one.
    assert!(response.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", response.head);
    assert!(!response.head.contains(SECRET));
    assert_eq!(upstream.seen.lock().unwrap()[0].headers["authorization"], SECRET);

    // Compressed: not inspectable, so not sent (502, recorded).
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!("GET {base}/gzip HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n");
    let response = exchange(stream, &request).await;
    assert_eq!(response.status, 502, "{response:?}");
    assert!(!response.body.contains("not really gzip"));
    let blocked = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Blocked { .. })).await;
    assert!(matches!(blocked, EgressEvent::Blocked { status: 502, leak: false, .. }));
    proxy.stop().await;
}
