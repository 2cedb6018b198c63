//! CONNECT tunnels the gate inspects: TLS terminated under the local CA, each
//! request inside rewritten or blocked, and sent on over verified TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::tls::{http_client, local_ca, rig, rig_with, send, tls_through};
use common::{
    BLOCK_MARKER, FilterMode, PLACEHOLDER, SECRET, UPSTREAM_BODY, exchange, local_config,
    open_tunnel, proxy_connect_refused, read_to_close, reflection, start_proxy, start_sentinel,
};
use http::Request;
use http_body_util::Full;
use hyper::body::Bytes;
use tokio::io::AsyncWriteExt;
use warrant_egress::{EgressEvent, RequestKind, Verdict};

fn https(method: &str, path: &str) -> RequestKind {
    RequestKind::Https { method: method.to_owned(), path: path.to_owned() }
}

fn is_finished(kind: &RequestKind) -> impl Fn(&EgressEvent) -> bool {
    move |e| matches!(e, EgressEvent::Finished { request, .. } if request.kind == *kind)
}

fn blocks(events: &[EgressEvent], code: u16) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EgressEvent::Blocked { status, .. } if *status == code))
        .count()
}

#[tokio::test]
async fn header_placeholder_becomes_the_secret_upstream_over_verified_tls() {
    let rig = rig(|_| {}).await;
    let (proxy, target) = (&rig.proxy, &rig.target);

    let tls = rig.tls().await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let response = exchange(
        tls,
        &format!(
            "GET /v1/me?page=2 HTTP/1.1\r\nHost: {target}\r\nAuthorization: Bearer {PLACEHOLDER}\r\n\
             Proxy-Authorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, UPSTREAM_BODY);
    assert!(response.has_header("x-upstream"));
    assert!(!response.has_header("x-warrant-egress"), "an upstream forged the refusal header");
    let seen = rig.upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {SECRET}"));
    assert_eq!(seen[0].uri, "/v1/me?page=2");
    assert_eq!(seen[0].headers["host"], *target);
    assert!(!seen[0].headers.contains_key("proxy-authorization"));
    assert!(!seen[0].headers.contains_key("connection"));
    // An IP literal: no SNI, the certificate checked against the IP.
    assert_eq!(seen[0].sni, None);

    let inspected = proxy.gate.inspected();
    assert_eq!(inspected.len(), 1);
    assert_eq!(inspected[0].kind, https("GET", "/v1/me?page=2"));
    assert_eq!(proxy.gate.decided()[0].kind, RequestKind::Connect);
    let inner = proxy.gate.wait_for(is_finished(&https("GET", "/v1/me?page=2"))).await;
    let EgressEvent::Finished { request, outcome } = inner else { unreachable!() };
    assert_eq!((request.host.as_str(), request.port), ("127.0.0.1", rig.upstream.addr.port()));
    assert_eq!(outcome.status, Some(200));
    assert_eq!((outcome.bytes_down, outcome.error), (UPSTREAM_BODY.len() as u64, None));
    let tunnel = proxy.gate.wait_for(is_finished(&RequestKind::Connect)).await;
    let EgressEvent::Finished { outcome, .. } = tunnel else { unreachable!() };
    assert_eq!((outcome.status, outcome.error.as_deref()), (Some(200), None));
    // Counted on the client's side: TLS records, more than the body.
    assert!(outcome.bytes_up > 0 && outcome.bytes_down > UPSTREAM_BODY.len() as u64, "{outcome:?}");
    assert!(
        matches!(&proxy.gate.events()[0], EgressEvent::Decided { verdict: Verdict::Allow, .. }),
        "the decision is recorded first"
    );
    rig.proxy.stop().await;
}

#[tokio::test]
async fn query_and_body_are_swapped_and_sent_with_the_new_length_also_when_chunked() {
    let rig = rig(|_| {}).await;
    let target = &rig.target;

    let body = format!("{{\"token\":\"{PLACEHOLDER}\"}}");
    let request = format!(
        "POST /upload?key={PLACEHOLDER}&x=1 HTTP/1.1\r\nHost: {target}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(exchange(rig.tls().await, &request).await.status, 200);
    let chunk = format!("&token={PLACEHOLDER}");
    let request = format!(
        "PUT /chunked HTTP/1.1\r\nHost: {target}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n5\r\nhello\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    assert_eq!(exchange(rig.tls().await, &request).await.status, 200);

    let seen = rig.upstream.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].uri, format!("/upload?key={SECRET}&x=1"));
    let swapped = format!("{{\"token\":\"{SECRET}\"}}");
    assert_eq!(seen[0].body, swapped.as_bytes());
    assert_eq!(seen[0].headers["content-length"], swapped.len().to_string());
    let swapped = format!("hello&token={SECRET}");
    assert_eq!(seen[1].body, swapped.as_bytes());
    assert_eq!(seen[1].headers["content-length"], swapped.len().to_string());
    assert!(!seen[1].headers.contains_key("transfer-encoding"));
    // The record keeps the path as the agent sent it.
    let inspected = rig.proxy.gate.inspected();
    assert_eq!(inspected[0].kind, https("POST", &format!("/upload?key={PLACEHOLDER}&x=1")));
    rig.proxy.stop().await;
}

#[tokio::test]
async fn blocked_request_gets_403_reaches_nothing_and_the_tunnel_goes_on() {
    let rig = rig(|_| {}).await;
    let (proxy, target) = (&rig.proxy, &rig.target);

    let mut client = http_client(rig.tls().await).await;
    let blocked = Request::post("/paste")
        .header("host", target)
        .body(Full::new(Bytes::from(format!("data={BLOCK_MARKER}"))))
        .unwrap();
    let (status, headers, body) = send(&mut client, blocked).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, "warrant: credential heading to the wrong host\n");
    assert_eq!(headers["x-warrant-egress"], "refused");
    assert!(rig.upstream.seen().is_empty(), "a blocked request reached the upstream");

    let event = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Blocked { .. })).await;
    let EgressEvent::Blocked { request, status, reason, leak } = event else { unreachable!() };
    assert_eq!((request.kind, status, leak), (https("POST", "/paste"), 403, true));
    assert_eq!(reason, "credential heading to the wrong host");

    // The same tunnel still carries the next request.
    let fine = Request::get("/ok").header("host", target).body(Full::default()).unwrap();
    let (status, _, body) = send(&mut client, fine).await;
    assert_eq!((status, body.as_str()), (200, UPSTREAM_BODY));
    assert_eq!(rig.upstream.seen().len(), 1);
    let finished = proxy.gate.wait_for(is_finished(&https("POST", "/paste"))).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    assert_eq!(outcome.status, Some(403));
    rig.proxy.stop().await;
}

#[tokio::test]
async fn body_over_the_inspection_limit_gets_413_and_is_not_sent() {
    let rig = rig(|config| config.max_inspected_body = 1024).await;
    let target = &rig.target;
    let big = "a".repeat(2048);

    let request = format!(
        "POST /big HTTP/1.1\r\nHost: {target}\r\nContent-Length: 2048\r\nConnection: close\r\n\r\n{big}"
    );
    let response = exchange(rig.tls().await, &request).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.body.contains("larger than 1024 bytes"), "{response:?}");
    let request = format!(
        "POST /big HTTP/1.1\r\nHost: {target}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n800\r\n{big}\r\n0\r\n\r\n"
    );
    assert_eq!(exchange(rig.tls().await, &request).await.status, 413);
    // At the limit, it goes.
    let request = format!(
        "POST /fits HTTP/1.1\r\nHost: {target}\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n{}",
        &big[..1024]
    );
    assert_eq!(exchange(rig.tls().await, &request).await.status, 200);

    let seen = rig.upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/fits");
    assert_eq!(blocks(&rig.proxy.gate.events(), 413), 2);
    rig.proxy.stop().await;
}

#[tokio::test]
async fn inspected_tunnel_without_interception_is_refused_not_relayed() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let proxy = start_proxy(local_config()).await;
    proxy.gate.inspect.store(true, std::sync::atomic::Ordering::SeqCst);
    let response = proxy_connect_refused(proxy.addr(), &sentinel.addr.to_string()).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.body.contains("TLS interception is not configured"), "{response:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sentinel.accepts(), 0, "an uninspectable tunnel was connected");
    let event = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Blocked { .. })).await;
    let EgressEvent::Blocked { request, status, .. } = event else { unreachable!() };
    assert_eq!((request.kind, status), (RequestKind::Connect, 403));
    proxy.stop().await;
}

#[tokio::test]
async fn client_naming_another_host_in_sni_is_refused_the_handshake() {
    // `localhost` may resolve to ::1 too; the upstream is on 127.0.0.1.
    let rig = rig(|config| config.allow_private.push("::1/128".parse().unwrap())).await;
    let target = format!("localhost:{}", rig.upstream.addr.port());

    let refused = tls_through(rig.proxy.addr(), &target, "other.example", &rig.roots()).await;
    assert!(refused.is_err(), "the proxy served a certificate for a host it was not asked for");
    let event = rig.proxy.gate.wait_for(is_finished(&RequestKind::Connect)).await;
    let EgressEvent::Finished { outcome, .. } = event else { unreachable!() };
    let error = outcome.error.unwrap();
    assert!(error.contains("the client named `other.example`"), "{error}");

    // The tunnel's own name is served, and reaches the upstream by that name.
    let tls = tls_through(rig.proxy.addr(), &target, "localhost", &rig.roots()).await.unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    assert_eq!(exchange(tls, &request).await.status, 200);
    let seen = rig.upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].sni.as_deref(), Some("localhost"));
    rig.proxy.stop().await;
}

#[tokio::test]
async fn request_naming_another_host_gets_421_and_is_not_sent() {
    let rig = rig(|_| {}).await;
    for (line, host) in [
        ("GET / HTTP/1.1", "evil.example"),
        ("GET / HTTP/1.1", "127.0.0.1:1"),
        ("GET https://evil.example/ HTTP/1.1", rig.target.as_str()),
    ] {
        let request = format!("{line}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let response = exchange(rig.tls().await, &request).await;
        assert_eq!(response.status, 421, "{line} / {host}: {response:?}");
        assert!(response.body.contains("not the tunnel's"), "{response:?}");
    }
    assert!(rig.upstream.seen().is_empty());
    assert_eq!(blocks(&rig.proxy.gate.events(), 421), 3);

    // The tunnel's host, with or without its port, goes.
    let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(rig.tls().await, request).await.status, 200);
    rig.proxy.stop().await;
}

#[tokio::test]
async fn minted_leaf_is_valid_for_the_connect_host_and_not_another() {
    let rig = rig(|_| {}).await;
    let (proxy, target) = (rig.proxy.addr(), &rig.target);

    let err = tls_through(proxy, target, "127.0.0.2", &rig.roots()).await.unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    // Nor does a client that trusts only the real upstream's CA accept it.
    let upstream_ca = std::slice::from_ref(&rig.pki.ca);
    let err = tls_through(proxy, target, "127.0.0.1", upstream_ca).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    tls_through(proxy, target, "127.0.0.1", &rig.roots()).await.unwrap();
    rig.proxy.stop().await;
}

#[tokio::test]
async fn upstream_with_an_untrusted_certificate_gets_502() {
    let rig = rig(|_| {}).await;
    // A proxy whose interception trusts another CA than the upstream's.
    let other = common::tls::interception(&common::tls::pki().ca);
    let proxy = start_proxy(common::tls::intercepting(&other)).await;
    proxy.gate.inspect.store(true, std::sync::atomic::Ordering::SeqCst);
    let target = &rig.target;

    let tls = tls_through(proxy.addr(), target, "127.0.0.1", &local_ca(&other)).await.unwrap();
    let request = format!(
        "GET /x HTTP/1.1\r\nHost: {target}\r\nAuthorization: Bearer {PLACEHOLDER}\r\n\
         Connection: close\r\n\r\n"
    );
    let response = exchange(tls, &request).await;
    assert_eq!(response.status, 502, "{response:?}");
    assert!(response.body.contains("invalid peer certificate"), "{response:?}");
    assert!(rig.upstream.seen().is_empty());
    let finished = proxy.gate.wait_for(is_finished(&https("GET", "/x"))).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    assert_eq!(outcome.status, Some(502));
    let error = outcome.error.unwrap();
    assert!(error.contains("invalid peer certificate"), "{error}");
    proxy.stop().await;
}

#[tokio::test]
async fn plain_bytes_into_an_intercepted_tunnel_close_it_and_are_recorded() {
    let rig = rig(|_| {}).await;
    let (status, mut tunnel) = open_tunnel(rig.proxy.addr(), &rig.target).await;
    assert_eq!(status, 200);
    tunnel.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let back = read_to_close(&mut tunnel).await;
    assert!(!back.starts_with(b"HTTP/"), "plain HTTP was served: {back:?}");
    let event = rig.proxy.gate.wait_for(is_finished(&RequestKind::Connect)).await;
    let EgressEvent::Finished { outcome, .. } = event else { unreachable!() };
    assert_eq!(outcome.status, Some(200));
    let error = outcome.error.unwrap();
    assert!(error.contains("TLS handshake with the client failed"), "{error}");
    assert!(rig.upstream.seen().is_empty());
    rig.proxy.stop().await;
}

#[tokio::test]
async fn kept_alive_requests_share_one_upstream_connection() {
    let rig = rig(|_| {}).await;
    let mut client = http_client(rig.tls().await).await;
    for i in 0..3 {
        let request = Request::get(format!("/n/{i}"))
            .header("host", &rig.target)
            .header("x-api-key", PLACEHOLDER)
            .body(Full::default())
            .unwrap();
        let (status, _, body) = send(&mut client, request).await;
        assert_eq!((status, body.as_str()), (200, UPSTREAM_BODY));
    }
    let seen = rig.upstream.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.headers["x-api-key"] == SECRET));
    assert_eq!(rig.upstream.accepts(), 1, "each request opened its own upstream connection");
    rig.proxy.stop().await;
}

#[tokio::test]
async fn upstream_that_closes_after_each_response_is_reconnected() {
    let rig = rig_with(false, |_| {}).await;
    let mut client = http_client(rig.tls().await).await;
    for i in 0..3 {
        let request =
            Request::get(format!("/again/{i}")).header("host", &rig.target).body(Full::default());
        let (status, _, body) = send(&mut client, request.unwrap()).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    assert_eq!(rig.upstream.seen().len(), 3);
    assert_eq!(rig.upstream.accepts(), 3);
    rig.proxy.stop().await;
}

#[tokio::test]
async fn tunnel_the_gate_does_not_inspect_stays_opaque() {
    let rig = rig(|_| {}).await;
    rig.proxy.gate.inspect.store(false, std::sync::atomic::Ordering::SeqCst);
    let (proxy, target) = (rig.proxy.addr(), &rig.target);

    // The client sees the upstream's own certificate, not a minted one.
    let minted = tls_through(proxy, target, "127.0.0.1", &rig.roots()).await;
    assert!(minted.is_err(), "an uninspected tunnel was intercepted");
    let upstream_ca = std::slice::from_ref(&rig.pki.ca);
    let tls = tls_through(proxy, target, "127.0.0.1", upstream_ca).await.unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {target}\r\nAuthorization: Bearer {PLACEHOLDER}\r\n\
         Connection: close\r\n\r\n"
    );
    assert_eq!(exchange(tls, &request).await.status, 200);
    assert_eq!(rig.upstream.seen()[0].headers["authorization"], format!("Bearer {PLACEHOLDER}"));
    assert!(rig.proxy.gate.inspected().is_empty());
    rig.proxy.stop().await;
}

#[tokio::test]
async fn a_reflected_secret_is_masked_in_the_response_head_and_streamed_body() {
    let rig = rig(|_| {}).await;
    *rig.proxy.gate.filter.lock().unwrap() = FilterMode::MaskSecret;
    let mut client = http_client(rig.tls().await).await;
    // Twice on one tunnel: the filter is per response.
    for _ in 0..2 {
        let request = Request::get("/reflect")
            .header("host", &rig.target)
            .header("authorization", format!("Bearer {PLACEHOLDER}"))
            .body(Full::default())
            .unwrap();
        let (status, head, body) = send(&mut client, request).await;
        assert_eq!(status, 200, "{body}");
        // The upstream reflected the real secret; the client sees it masked,
        // every copy, with the length (and so the framing) unchanged.
        let masked = format!("Bearer {}", "*".repeat(SECRET.len()));
        assert_eq!(head["x-echo"], masked.as_str());
        let expected = String::from_utf8(reflection(&masked)).unwrap();
        assert_eq!(body.len(), expected.len());
        assert!(body == expected, "a copy of the secret was not masked");
        assert_eq!(head["content-length"], expected.len().to_string().as_str());
    }
    let seen = rig.upstream.seen();
    assert!(seen.iter().all(|s| s.headers["authorization"] == format!("Bearer {SECRET}")));
    let done = proxy_finished(&rig, "/reflect").await;
    assert_eq!((done.status, done.error), (Some(200), None));
    assert_eq!(done.bytes_down, reflection(&format!("Bearer {SECRET}")).len() as u64);
    rig.proxy.stop().await;
}

async fn proxy_finished(rig: &common::tls::Rig, path: &str) -> warrant_egress::Outcome {
    let event = rig.proxy.gate.wait_for(is_finished(&https("GET", path))).await;
    let EgressEvent::Finished { outcome, .. } = event else { unreachable!() };
    outcome
}

#[tokio::test]
async fn a_response_the_gate_cannot_inspect_gets_502_and_the_tunnel_goes_on() {
    let rig = rig(|_| {}).await;
    *rig.proxy.gate.filter.lock().unwrap() = FilterMode::MaskSecret;
    let mut client = http_client(rig.tls().await).await;
    let request = Request::get("/gzip").header("host", &rig.target).body(Full::default()).unwrap();
    let (status, head, body) = send(&mut client, request).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("compressed response cannot be inspected"), "{body}");
    assert_eq!(head["x-warrant-egress"], "refused");
    let event = rig.proxy.gate.wait_for(|e| matches!(e, EgressEvent::Blocked { .. })).await;
    let EgressEvent::Blocked { status, leak, .. } = event else { unreachable!() };
    assert_eq!((status, leak), (502, false));
    // The next request on the same tunnel is served.
    let request = Request::get("/next").header("host", &rig.target).body(Full::default()).unwrap();
    let (status, _, body) = send(&mut client, request).await;
    assert_eq!((status, body.as_str()), (200, UPSTREAM_BODY));
    rig.proxy.stop().await;
}

#[tokio::test]
async fn a_filter_that_changes_the_length_cuts_the_response_off() {
    for mode in [FilterMode::Shrink, FilterMode::Grow] {
        let rig = rig(|_| {}).await;
        *rig.proxy.gate.filter.lock().unwrap() = mode;
        let tls = rig.tls().await;
        let target = &rig.target;
        let response = exchange(
            tls,
            &format!("GET /reflect HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let full = reflection("").len();
        assert!(response.body.len() < full, "{mode:?}: {} of {full} bytes", response.body.len());
        let done = proxy_finished(&rig, "/reflect").await;
        let error = done.error.unwrap_or_default();
        assert!(error.contains("changed the body's length"), "{mode:?}: {error}");
        rig.proxy.stop().await;
    }
}
