//! CONNECT tunnels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::{
    local_config, open_tunnel, proxy_connect_refused, start_echo, start_proxy, start_sentinel,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warrant_egress::{EgressConfig, EgressEvent, RequestKind};

#[tokio::test]
async fn connect_tunnel_round_trips_bytes_and_records_them() {
    let echo = start_echo().await;
    let proxy = start_proxy(local_config()).await;

    let (status, mut tunnel) = open_tunnel(proxy.addr(), &echo.to_string()).await;
    assert_eq!(status, 200);
    for message in [&b"ping"[..], &[0u8, 255, 13, 10, 13, 10][..], &vec![7u8; 100_000][..]] {
        tunnel.write_all(message).await.unwrap();
        let mut back = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), tunnel.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, message);
    }
    drop(tunnel);

    let decided = proxy.gate.decided();
    assert_eq!(decided.len(), 1);
    assert_eq!((decided[0].host.as_str(), decided[0].port), ("127.0.0.1", echo.port()));
    assert_eq!(decided[0].kind, RequestKind::Connect);
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    let sent = 4 + 6 + 100_000;
    assert_eq!((outcome.status, outcome.bytes_up, outcome.bytes_down), (Some(200), sent, sent));
    proxy.stop().await;
}

#[tokio::test]
async fn port_outside_allowed_ports_is_refused_before_resolving_or_connecting() {
    let sentinel = start_sentinel("127.0.0.1:0", || {}).await;
    let config = EgressConfig { allowed_ports: Some(vec![443]), ..local_config() };
    let proxy = start_proxy(config).await;
    let response = proxy_connect_refused(proxy.addr(), &sentinel.addr.to_string()).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert!(
        response.body.contains(&format!("port {} is not allowed", sentinel.addr.port())),
        "{response:?}"
    );
    assert_eq!(sentinel.accepts(), 0);
    assert!(proxy.gate.decided().is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn idle_tunnel_is_closed_after_idle_timeout() {
    let echo = start_echo().await;
    let idle = Duration::from_millis(300);
    let proxy = start_proxy(EgressConfig { idle_timeout: idle, ..local_config() }).await;
    let (status, mut tunnel) = open_tunnel(proxy.addr(), &echo.to_string()).await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    let rest = common::read_to_close(&mut tunnel).await;
    assert!(rest.is_empty());
    assert!(started.elapsed() >= idle - Duration::from_millis(50), "{:?}", started.elapsed());
    let finished = proxy.gate.wait_for(|e| matches!(e, EgressEvent::Finished { .. })).await;
    let EgressEvent::Finished { outcome, .. } = finished else { unreachable!() };
    assert!(outcome.error.unwrap().contains("idle"));
    proxy.stop().await;
}

#[tokio::test]
async fn shutdown_closes_open_tunnels_and_serve_returns() {
    let echo = start_echo().await;
    let proxy = start_proxy(local_config()).await;
    let (status, mut tunnel) = open_tunnel(proxy.addr(), &echo.to_string()).await;
    assert_eq!(status, 200);
    let gate = std::sync::Arc::clone(&proxy.gate);
    proxy.stop().await;
    assert!(common::read_to_close(&mut tunnel).await.is_empty());
    assert!(gate.events().iter().any(|e| matches!(e, EgressEvent::Finished { .. })));
}
