//! HTTPS through the proxy, in the same run as the plain figures: a local
//! HTTPS server (keep-alive), reached directly, through an opaque CONNECT
//! tunnel, and through intercepted tunnels whose inspection does nothing,
//! swaps a header, or swaps a header and passes the response through a
//! filter that masks the secret.
//!
//! Two costs are told apart: each request on an already open (kept-alive)
//! connection or tunnel, and setting one up (TCP, CONNECT, TLS handshakes,
//! the first request; for an intercepted tunnel also the proxy's own TLS to
//! the upstream). Minting a leaf happens once per host: it is counted on
//! proxies whose local CA has never seen the host ("cold").

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;
use warrant_egress::{
    Blocked, Destination, EgressConfig, EgressEvent, EgressRequest, Gate, Interception, LocalCa,
    ResponseFilter, Verdict,
};

use crate::{percentile, timed};

const N: usize = 2000;
const WARMUP: usize = 100;
const N_SETUP: usize = 300;
const N_COLD: usize = 50;
const PLACEHOLDER: &str = "Bearer wt-placeholder-0001";
const SECRET: &str = "Bearer sk-live-real-secret-value-0123456789";

/// What the gate asks of each request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inspect {
    No,
    Nothing,
    SwapHeader,
    SwapAndFilter,
}

struct BenchGate {
    inspect: Inspect,
    events: Mutex<usize>,
}

impl Gate for BenchGate {
    type RecordError = std::convert::Infallible;

    async fn decide(&self, _destination: &Destination) -> Verdict {
        Verdict::Allow
    }

    async fn record(&self, _event: EgressEvent) -> Result<(), Self::RecordError> {
        *self.events.lock().unwrap() += 1;
        Ok(())
    }

    fn inspects(&self, _request: &EgressRequest) -> bool {
        self.inspect != Inspect::No
    }

    fn inspect(
        &self,
        _request: &EgressRequest,
        head: &mut http::request::Parts,
        _body: &mut Vec<u8>,
    ) -> Result<(), Blocked> {
        if matches!(self.inspect, Inspect::SwapHeader | Inspect::SwapAndFilter)
            && let Some(value) = head.headers.get_mut(http::header::AUTHORIZATION)
            && value == PLACEHOLDER
        {
            *value = http::HeaderValue::from_static(SECRET);
        }
        Ok(())
    }

    fn filter_response(
        &self,
        _request: &EgressRequest,
        _head: &mut http::response::Parts,
    ) -> Result<Option<Box<dyn ResponseFilter>>, Blocked> {
        Ok((self.inspect == Inspect::SwapAndFilter)
            .then(|| Box::new(MaskSecret::default()) as Box<dyn ResponseFilter>))
    }
}

/// Masks [`SECRET`] in a streamed body, holding back one byte less than it.
#[derive(Default)]
struct MaskSecret {
    held: Vec<u8>,
}

impl MaskSecret {
    fn mask(&mut self) {
        let needle = SECRET.as_bytes();
        let mut at = 0;
        while at + needle.len() <= self.held.len() {
            if &self.held[at..at + needle.len()] == needle {
                self.held[at..at + needle.len()].fill(b'*');
                at += needle.len();
            } else {
                at += 1;
            }
        }
    }
}

impl ResponseFilter for MaskSecret {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.held.extend_from_slice(chunk);
        self.mask();
        let ready = self.held.len().saturating_sub(SECRET.len() - 1);
        out.extend(self.held.drain(..ready));
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.mask();
        out.append(&mut self.held);
    }
}

struct Proxy {
    addr: SocketAddr,
    /// What a client of this proxy trusts for the upstream's name.
    client: Arc<rustls::ClientConfig>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

pub async fn run() {
    let (upstream_ca, server) = pki();
    let upstream = start_https(server).await;
    let direct = client_trusting(&upstream_ca);
    let opaque = start_proxy(Inspect::No, &upstream_ca).await;
    let nothing = start_proxy(Inspect::Nothing, &upstream_ca).await;
    let swap = start_proxy(Inspect::SwapHeader, &upstream_ca).await;
    let filter = start_proxy(Inspect::SwapAndFilter, &upstream_ca).await;

    // Kept alive: one connection or tunnel per path, one request each in turn.
    let mut clients = [
        http_client(tls(upstream, None, &direct).await).await,
        http_client(tls(upstream, Some(opaque.addr), &opaque.client).await).await,
        http_client(tls(upstream, Some(nothing.addr), &nothing.client).await).await,
        http_client(tls(upstream, Some(swap.addr), &swap.client).await).await,
        http_client(tls(upstream, Some(filter.addr), &filter.client).await).await,
    ];
    let mut kept: [Vec<Duration>; 5] = Default::default();
    for i in 0..WARMUP + N {
        for (client, samples) in clients.iter_mut().zip(kept.iter_mut()) {
            let took = timed(get(client, upstream)).await;
            if i >= WARMUP {
                samples.push(took);
            }
        }
    }
    drop(clients);

    // Set up: a new connection or tunnel, its handshakes and one request.
    let paths = [
        (None, &direct),
        (Some(opaque.addr), &opaque.client),
        (Some(nothing.addr), &nothing.client),
    ];
    let mut setup: [Vec<Duration>; 3] = Default::default();
    for i in 0..WARMUP + N_SETUP {
        for ((via, client), samples) in paths.iter().zip(setup.iter_mut()) {
            let took = timed(one_request(upstream, *via, client)).await;
            if i >= WARMUP {
                samples.push(took);
            }
        }
    }
    // Cold: the first tunnel of a proxy whose CA mints the host's leaf.
    let mut cold = Vec::with_capacity(N_COLD);
    for _ in 0..N_COLD {
        let fresh = start_proxy(Inspect::Nothing, &upstream_ca).await;
        cold.push(timed(one_request(upstream, Some(fresh.addr), &fresh.client)).await);
        fresh.stop().await;
    }
    for proxy in [opaque, nothing, swap, filter] {
        proxy.stop().await;
    }

    println!();
    println!("HTTPS, GET on a kept-alive connection or tunnel (N = {N}, interleaved)");
    let [k_direct, k_opaque, k_nothing, k_swap, k_filter] = &mut kept;
    let base = (stats(k_direct), stats(k_opaque));
    rows(
        base,
        &mut [
            ("direct", k_direct),
            ("opaque CONNECT tunnel", k_opaque),
            ("intercepted, inspect does nothing", k_nothing),
            ("intercepted, inspect swaps a header", k_swap),
            ("... and filters the response", k_filter),
        ],
    );
    println!();
    println!("HTTPS, set up + first GET (TCP, CONNECT, TLS) (N = {N_SETUP}, leaf cached)");
    let [s_direct, s_opaque, s_nothing] = &mut setup;
    let base = (stats(s_direct), stats(s_opaque));
    rows(
        base,
        &mut [
            ("direct", s_direct),
            ("opaque CONNECT tunnel", s_opaque),
            ("intercepted (both TLS handshakes)", s_nothing),
            ("intercepted, cold: leaf minted", &mut cold),
        ],
    );
}

/// Median and p99.
fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    (percentile(samples, 50), percentile(samples, 99))
}

/// Prints each row's median and p99, what it adds over direct, and its
/// ratios to direct and to the opaque tunnel (`base`).
fn rows(
    base: ((Duration, Duration), (Duration, Duration)),
    rows: &mut [(&str, &mut Vec<Duration>)],
) {
    let ((d50, d99), (o50, o99)) = base;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10}   ratio median (p99) to direct | to opaque",
        "path", "median", "p99", "+median", "+p99"
    );
    for (name, samples) in rows.iter_mut() {
        let (m50, m99) = stats(samples);
        println!(
            "{:<38} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}   {:.2}x ({:.2}x) | {:.2}x ({:.2}x)",
            name,
            m50,
            m99,
            m50.saturating_sub(d50),
            m99.saturating_sub(d99),
            ratio(m50, d50),
            ratio(m99, d99),
            ratio(m50, o50),
            ratio(m99, o99),
        );
    }
}

/// A test CA's certificate, and a server configuration it certifies for
/// 127.0.0.1.
fn pki() -> (CertificateDer<'static>, Arc<rustls::ServerConfig>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca.der().clone(), Arc::new(server))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_trusting(ca: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A proxy whose gate allows everything and inspects as told; interception
/// with a fresh local CA, verifying the upstream against `upstream_ca`.
async fn start_proxy(inspect: Inspect, upstream_ca: &CertificateDer<'static>) -> Proxy {
    let (ca, _key) = LocalCa::generate("bench local CA").unwrap();
    let client = match inspect {
        Inspect::No => client_trusting(upstream_ca),
        Inspect::Nothing | Inspect::SwapHeader | Inspect::SwapAndFilter => {
            client_trusting(ca.cert_der())
        }
    };
    let interception = Arc::new(Interception::new(ca, &client_trusting(upstream_ca)));
    let config = EgressConfig {
        allow_private: vec!["127.0.0.1/32".parse().unwrap()],
        interception: Some(interception),
        ..EgressConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(BenchGate { inspect, events: Mutex::new(0) });
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(warrant_egress::serve(
        listener,
        "bench".to_owned(),
        config,
        gate,
        shutdown.clone(),
    ));
    Proxy { addr, client, shutdown, task }
}

async fn start_https(server: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else { return };
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

/// TLS to `upstream`, directly or inside a CONNECT tunnel through `via`.
async fn tls(
    upstream: SocketAddr,
    via: Option<SocketAddr>,
    client: &Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut stream = TcpStream::connect(via.unwrap_or(upstream)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    if via.is_some() {
        let request = format!("CONNECT {upstream} HTTP/1.1\r\nHost: {upstream}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "proxy closed");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    }
    let name = ServerName::IpAddress(upstream.ip().into());
    TlsConnector::from(Arc::clone(client)).connect(name, stream).await.unwrap()
}

async fn http_client(
    stream: tokio_rustls::client::TlsStream<TcpStream>,
) -> SendRequest<Full<Bytes>> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// One GET carrying a placeholder credential, read to the end.
async fn get(client: &mut SendRequest<Full<Bytes>>, upstream: SocketAddr) {
    client.ready().await.unwrap();
    let request = Request::get("/")
        .header(http::header::HOST, upstream.to_string())
        .header(http::header::AUTHORIZATION, PLACEHOLDER)
        .body(Full::default())
        .unwrap();
    let response = client.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
}

/// A new connection or tunnel, its handshakes and one GET.
async fn one_request(
    upstream: SocketAddr,
    via: Option<SocketAddr>,
    client: &Arc<rustls::ClientConfig>,
) {
    let mut sender = http_client(tls(upstream, via, client).await).await;
    get(&mut sender, upstream).await;
}
