//! The proxy served over a Unix socket, as a sandbox may reach it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{UPSTREAM_BODY, exchange, local_config, start_proxy_on, start_upstream};
use tokio::net::{UnixListener, UnixStream};

#[tokio::test]
async fn get_and_refusal_work_over_a_unix_socket() {
    let upstream = start_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("egress.sock");
    let proxy = start_proxy_on(UnixListener::bind(&path).unwrap(), local_config());

    let stream = UnixStream::connect(&path).await.unwrap();
    let url = format!("http://{}/via-unix", upstream.addr);
    let response =
        exchange(stream, &format!("GET {url} HTTP/1.1\r\nConnection: close\r\n\r\n")).await;
    assert_eq!((response.status, response.body.as_str()), (200, UPSTREAM_BODY), "{response:?}");
    assert_eq!(upstream.seen.lock().unwrap()[0].uri, "/via-unix");

    let stream = UnixStream::connect(&path).await.unwrap();
    let response =
        exchange(stream, "GET http://169.254.169.254/ HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(response.status, 403, "{response:?}");
    proxy.stop().await;
}
