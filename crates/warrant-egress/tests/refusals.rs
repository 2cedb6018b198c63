//! Destinations the proxy refuses on its own, and the gate's say: denial,
//! failed records, and the order of decision, record and connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    RecordingGate, local_config, open_tunnel, proxy_connect_refused, proxy_get, start_proxy,
    start_sentinel,
};
use warrant_egress::{EgressConfig, EgressEvent, Verdict};

#[tokio::test]
async fn forbidden_destinations_are_refused_with_403_and_never_connected() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let port = sentinel.addr.port();
    // A listener on [::1] too, where the host has IPv6.
    let sentinel_v6 = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(probe) => {
            drop(probe);
            Some(start_sentinel("[::1]:0", || {}).await)
        }
        Err(_) => None,
    };
    let port_v6 = sentinel_v6.as_ref().map_or(port, |s| s.addr.port());
    // No exemption: the strict default.
    let proxy = start_proxy(EgressConfig::default()).await;

    let connects = [
        (format!("127.0.0.1:{port}"), "egress to 127.0.0.1 refused: loopback"),
        (format!("[::ffff:127.0.0.1]:{port}"), "IPv4-mapped 127.0.0.1: loopback"),
        (format!("localhost:{port}"), "egress to localhost refused: resolves to"),
        (format!("[::1]:{port_v6}"), "egress to ::1 refused: loopback"),
        ("10.0.0.1:443".to_owned(), "private (RFC 1918)"),
        (
            "169.254.169.254:80".to_owned(),
            "egress to 169.254.169.254 refused: link-local (cloud metadata)",
        ),
        ("[fd00:ec2::254]:80".to_owned(), "AWS instance metadata"),
    ];
    for (target, reason) in &connects {
        let response = proxy_connect_refused(proxy.addr(), target).await;
        assert_eq!(response.status, 403, "CONNECT {target}: {response:?}");
        assert!(response.body.starts_with("warrant: "), "{response:?}");
        assert!(response.body.contains(reason), "CONNECT {target}: {response:?}");
    }
    let gets = [
        (format!("http://127.0.0.1:{port}/"), "loopback"),
        (format!("http://LOCALHOST.:{port}/"), "loopback"),
        ("http://169.254.169.254/latest/meta-data/".to_owned(), "link-local (cloud metadata)"),
        ("http://10.1.2.3/".to_owned(), "private (RFC 1918)"),
    ];
    for (url, reason) in &gets {
        let response = proxy_get(proxy.addr(), url).await;
        assert_eq!(response.status, 403, "GET {url}: {response:?}");
        assert!(response.body.contains(reason), "GET {url}: {response:?}");
    }

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sentinel.accepts(), 0, "a forbidden destination was connected to");
    if let Some(v6) = &sentinel_v6 {
        assert_eq!(v6.accepts(), 0, "a forbidden IPv6 destination was connected to");
    }
    // A forbidden IP literal is refused before anyone is asked; a name is
    // resolved only once the gate allowed it, then refused for its address.
    let decided: Vec<String> = proxy.gate.decided().into_iter().map(|d| d.host).collect();
    assert_eq!(decided, ["localhost", "localhost"], "the gate was asked about an IP literal");
    let events = proxy.gate.events();
    let refusals: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            EgressEvent::Refused(refusal) => Some(refusal),
            EgressEvent::Decided { verdict: Verdict::Allow, .. } => None,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(refusals.len(), connects.len() + gets.len(), "{events:#?}");
    for refusal in refusals {
        assert_eq!(refusal.status, Some(403));
        assert!(refusal.request.as_ref().is_some_and(|r| !r.addresses.is_empty()), "{refusal:?}");
    }
    proxy.stop().await;
}

#[tokio::test]
async fn exemption_is_narrow_and_exempt_addresses_still_go_to_the_gate() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let proxy = start_proxy(local_config()).await;
    // 127.0.0.2 is loopback but outside the /32 exemption.
    let response =
        proxy_connect_refused(proxy.addr(), &format!("127.0.0.2:{}", sentinel.addr.port())).await;
    assert_eq!(response.status, 403, "{response:?}");
    // An exempt address is still put to the gate.
    let (status, _tunnel) = open_tunnel(proxy.addr(), &sentinel.addr.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(proxy.gate.decided().len(), 1);
    proxy.stop().await;
}

#[tokio::test]
async fn gate_denial_is_a_403_with_its_reason_and_no_connection() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let proxy = start_proxy(local_config()).await;
    *proxy.gate.deny.lock().unwrap() = Some("not on the allowlist".to_owned());

    let response = proxy_connect_refused(proxy.addr(), &sentinel.addr.to_string()).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.body.contains("refused: not on the allowlist"), "{response:?}");
    let response = proxy_get(proxy.addr(), &format!("http://{}/x", sentinel.addr)).await;
    assert_eq!(response.status, 403, "{response:?}");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sentinel.accepts(), 0);
    let events = proxy.gate.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| matches!(
        e,
        EgressEvent::Decided { verdict: Verdict::Deny { reason }, .. } if reason == "not on the allowlist"
    )));
    proxy.stop().await;
}

#[tokio::test]
async fn failed_record_refuses_the_request_fail_closed() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let proxy = start_proxy(local_config()).await;
    proxy.gate.fail_record.store(true, Ordering::SeqCst);

    let response = proxy_connect_refused(proxy.addr(), &sentinel.addr.to_string()).await;
    assert_eq!(response.status, 503, "{response:?}");
    assert!(response.body.contains("could not be recorded"), "{response:?}");
    let response = proxy_get(proxy.addr(), &format!("http://{}/", sentinel.addr)).await;
    assert_eq!(response.status, 503, "{response:?}");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(proxy.gate.decided().len(), 2, "the gate allowed both");
    assert_eq!(sentinel.accepts(), 0, "connected although the decision was not recorded");
    proxy.stop().await;
}

#[tokio::test]
async fn decision_is_recorded_before_the_connection_is_made() {
    let gate_slot: Arc<Mutex<Option<Arc<RecordingGate>>>> = Arc::default();
    let saw_decision = Arc::new(AtomicBool::new(false));
    let (slot, saw) = (Arc::clone(&gate_slot), Arc::clone(&saw_decision));
    let sentinel = start_sentinel("127.0.0.1:0", move || {
        let gate = slot.lock().unwrap().clone().unwrap();
        let recorded = gate
            .events()
            .iter()
            .any(|e| matches!(e, EgressEvent::Decided { verdict: Verdict::Allow, .. }));
        saw.store(recorded, Ordering::SeqCst);
    })
    .await;
    let proxy = start_proxy(local_config()).await;
    *gate_slot.lock().unwrap() = Some(Arc::clone(&proxy.gate));

    let (status, _tunnel) = open_tunnel(proxy.addr(), &sentinel.addr.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(sentinel.accepts(), 1);
    assert!(
        saw_decision.load(Ordering::SeqCst),
        "the listener accepted before the decision was recorded"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn bad_hosts_are_refused_with_400() {
    let proxy = start_proxy(local_config()).await;
    for target in
        ["user:pw@127.0.0.1:80", "127.1:80", "exa$mple.com:443", "[fe80::1%25lo]:80", "example.com"]
    {
        let response = proxy_connect_refused(proxy.addr(), target).await;
        assert_eq!(response.status, 400, "CONNECT {target}: {response:?}");
    }
    let response = proxy_get(proxy.addr(), "https://example.com/").await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(proxy.gate.decided().is_empty());
    proxy.stop().await;
}
