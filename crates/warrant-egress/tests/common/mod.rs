//! Fixtures: a gate that records what it is asked (screens out names with a
//! marker, can wait for a "person", and, when told, inspects: swaps a
//! placeholder for a secret, blocks on a marker), a resolver that records
//! every name it is asked for, the proxy on 127.0.0.1:0, a local hyper
//! upstream, an echo server, a listener that counts accepts, and a raw HTTP
//! client (so the bytes on the wire are the test's own). TLS fixtures are in
//! `tls.rs`.

#![allow(dead_code)]

pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use warrant_egress::{
    Blocked, Destination, EgressConfig, EgressEvent, EgressRequest, Gate, Listener, Resolver,
    Resolving, ResponseFilter, Verdict,
};

pub const AGENT: &str = "agent-7";
/// What the agent holds; the inspecting gate swaps it for [`SECRET`].
pub const PLACEHOLDER: &str = "wt-placeholder-0001";
/// What the upstream must see instead; longer, so lengths change.
pub const SECRET: &str = "sk-live-real-secret-value-0123456789";
/// A request carrying this (in a header or the body) is blocked; a host
/// name carrying it is screened out (as a leak).
pub const BLOCK_MARKER: &str = "exfiltrate-me";

/// What the recording gate's `filter_response` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FilterMode {
    /// Nothing: bodies stream unchanged.
    #[default]
    None,
    /// Masks [`SECRET`] with `*` in header values and (streamed) in the body;
    /// refuses a response with a `Content-Encoding`.
    MaskSecret,
    /// A broken filter that drops every tenth byte.
    Shrink,
    /// A broken filter that doubles the body.
    Grow,
}

/// A gate that records every call, and can be told to deny, to ask a
/// person, to fail records, or to inspect.
#[derive(Default)]
pub struct RecordingGate {
    pub deny: Mutex<Option<String>>,
    /// When set, the next `decide` waits for this answer (true: approved).
    pub person: Mutex<Option<oneshot::Receiver<bool>>>,
    /// Notified when `decide` starts waiting for the person.
    pub asked: Notify,
    pub fail_record: AtomicBool,
    /// `inspects` answers this; `inspect` then swaps and blocks.
    pub inspect: AtomicBool,
    /// How `filter_response` answers.
    pub filter: Mutex<FilterMode>,
    pub screened: Mutex<Vec<Destination>>,
    pub decided: Mutex<Vec<Destination>>,
    pub inspected: Mutex<Vec<EgressRequest>>,
    pub events: Mutex<Vec<EgressEvent>>,
}

impl Gate for RecordingGate {
    type RecordError = std::io::Error;

    async fn screen(&self, destination: &Destination) -> Result<(), Blocked> {
        self.screened.lock().unwrap().push(destination.clone());
        if destination.host.contains(BLOCK_MARKER) {
            return Err(Blocked::leak("the host name carries a secret"));
        }
        Ok(())
    }

    async fn decide(&self, destination: &Destination) -> Verdict {
        self.decided.lock().unwrap().push(destination.clone());
        let person = self.person.lock().unwrap().take();
        if let Some(answer) = person {
            self.asked.notify_one();
            return match answer.await {
                Ok(true) => Verdict::Allow,
                _ => Verdict::Deny { reason: "a person denied this connection".to_owned() },
            };
        }
        match self.deny.lock().unwrap().clone() {
            Some(reason) => Verdict::Deny { reason },
            None => Verdict::Allow,
        }
    }

    async fn record(&self, event: EgressEvent) -> Result<(), Self::RecordError> {
        if self.fail_record.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("audit log unavailable"));
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }

    fn inspects(&self, _request: &EgressRequest) -> bool {
        self.inspect.load(Ordering::SeqCst)
    }

    /// Swaps [`PLACEHOLDER`] for [`SECRET`] in header values, the query and
    /// the body; blocks on [`BLOCK_MARKER`].
    fn inspect(
        &self,
        request: &EgressRequest,
        head: &mut http::request::Parts,
        body: &mut Vec<u8>,
    ) -> Result<(), Blocked> {
        self.inspected.lock().unwrap().push(request.clone());
        let marked =
            |bytes: &[u8]| bytes.windows(BLOCK_MARKER.len()).any(|w| w == BLOCK_MARKER.as_bytes());
        if head.headers.values().any(|v| marked(v.as_bytes())) || marked(body) {
            return Err(Blocked::leak("credential heading to the wrong host"));
        }
        for value in head.headers.values_mut() {
            if let Ok(text) = value.to_str()
                && text.contains(PLACEHOLDER)
            {
                *value = text.replace(PLACEHOLDER, SECRET).parse().unwrap();
            }
        }
        let uri = head.uri.to_string();
        if uri.contains(PLACEHOLDER) {
            head.uri = uri.replace(PLACEHOLDER, SECRET).parse().unwrap();
        }
        let text = String::from_utf8(body.clone()).unwrap();
        *body = text.replace(PLACEHOLDER, SECRET).into_bytes();
        Ok(())
    }

    fn filter_response(
        &self,
        _request: &EgressRequest,
        head: &mut http::response::Parts,
    ) -> Result<Option<Box<dyn ResponseFilter>>, Blocked> {
        match *self.filter.lock().unwrap() {
            FilterMode::None => Ok(None),
            FilterMode::MaskSecret => {
                if head.headers.contains_key(http::header::CONTENT_ENCODING) {
                    return Err(Blocked::refused("a compressed response cannot be inspected"));
                }
                for value in head.headers.values_mut() {
                    let mut bytes = value.as_bytes().to_vec();
                    if mask_secret(&mut bytes) {
                        *value = http::HeaderValue::from_bytes(&bytes).unwrap();
                    }
                }
                Ok(Some(Box::new(MaskSecret::default())))
            }
            FilterMode::Shrink => Ok(Some(Box::new(Shrink))),
            FilterMode::Grow => Ok(Some(Box::new(Grow))),
        }
    }
}

/// Overwrites each [`SECRET`] in `bytes` with `*`; whether there was one.
pub fn mask_secret(bytes: &mut [u8]) -> bool {
    let mut found = false;
    let mut at = 0;
    while at + SECRET.len() <= bytes.len() {
        if &bytes[at..at + SECRET.len()] == SECRET.as_bytes() {
            bytes[at..at + SECRET.len()].fill(b'*');
            found = true;
            at += SECRET.len();
        } else {
            at += 1;
        }
    }
    found
}

/// Masks [`SECRET`] across chunks: holds back one byte less than it.
#[derive(Default)]
struct MaskSecret {
    held: Vec<u8>,
}

impl ResponseFilter for MaskSecret {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.held.extend_from_slice(chunk);
        mask_secret(&mut self.held);
        let ready = self.held.len().saturating_sub(SECRET.len() - 1);
        out.extend(self.held.drain(..ready));
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        mask_secret(&mut self.held);
        out.append(&mut self.held);
    }
}

struct Shrink;

impl ResponseFilter for Shrink {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.extend(chunk.iter().enumerate().filter(|(i, _)| i % 10 != 0).map(|(_, b)| *b));
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

struct Grow;

impl ResponseFilter for Grow {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(chunk);
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

impl RecordingGate {
    pub fn events(&self) -> Vec<EgressEvent> {
        self.events.lock().unwrap().clone()
    }

    pub fn screened(&self) -> Vec<Destination> {
        self.screened.lock().unwrap().clone()
    }

    pub fn decided(&self) -> Vec<Destination> {
        self.decided.lock().unwrap().clone()
    }

    /// Makes the next `decide` wait for a person; send `true` to approve.
    pub fn ask_a_person(&self) -> oneshot::Sender<bool> {
        let (answer, wait) = oneshot::channel();
        *self.person.lock().unwrap() = Some(wait);
        answer
    }

    pub fn inspected(&self) -> Vec<EgressRequest> {
        self.inspected.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) for an event matching `pred`, and returns it.
    pub async fn wait_for(&self, pred: impl Fn(&EgressEvent) -> bool) -> EgressEvent {
        for _ in 0..500 {
            if let Some(event) = self.events().into_iter().find(|e| pred(e)) {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no matching event; events: {:#?}", self.events());
    }
}

/// A resolver that records every name it is asked for and answers from a
/// table (`127.0.0.1` for a name not in it). Nothing goes to a name server.
#[derive(Default)]
pub struct ObservedResolver {
    pub answers: Mutex<HashMap<String, Vec<IpAddr>>>,
    pub asked: Mutex<Vec<String>>,
    /// When set, each lookup notes whether this gate had already recorded
    /// an allow for the name (in `allowed_first`).
    pub gate: Mutex<Option<Arc<RecordingGate>>>,
    pub allowed_first: Mutex<Vec<bool>>,
}

impl std::fmt::Debug for ObservedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedResolver").field("asked", &self.asked).finish_non_exhaustive()
    }
}

impl ObservedResolver {
    /// Answers `addresses` for `name` from now on.
    pub fn answer(&self, name: &str, addresses: &[&str]) {
        let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
        self.answers.lock().unwrap().insert(name.to_owned(), addresses);
    }

    /// Every name asked for so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Resolver for ObservedResolver {
    fn resolve<'a>(&'a self, name: &'a str, _port: u16) -> Resolving<'a> {
        self.asked.lock().unwrap().push(name.to_owned());
        if let Some(gate) = self.gate.lock().unwrap().as_ref() {
            let allowed = gate.events().iter().any(|e| {
                matches!(e, EgressEvent::Decided { destination, verdict: Verdict::Allow }
                    if destination.host == name)
            });
            self.allowed_first.lock().unwrap().push(allowed);
        }
        let found = self.answers.lock().unwrap().get(name).cloned();
        let found = found.unwrap_or_else(|| vec![IpAddr::from([127, 0, 0, 1])]);
        Box::pin(std::future::ready(Ok(found)))
    }
}

/// [`local_config`] resolving with a fresh [`ObservedResolver`].
pub fn observed_config() -> (EgressConfig, Arc<ObservedResolver>) {
    let resolver = Arc::new(ObservedResolver::default());
    let config = EgressConfig { resolver: resolver.clone(), ..local_config() };
    (config, resolver)
}

/// The proxy, served on a listener of the test's choosing.
pub struct Proxy {
    pub addr: Option<SocketAddr>,
    pub gate: Arc<RecordingGate>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Proxy {
    pub fn addr(&self) -> SocketAddr {
        self.addr.unwrap()
    }

    /// Cancels and checks that `serve` returns promptly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

/// A config allowing 127.0.0.1 (the test servers) with short timeouts.
pub fn local_config() -> EgressConfig {
    EgressConfig {
        allow_private: vec!["127.0.0.1/32".parse().unwrap()],
        header_read_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        ..EgressConfig::default()
    }
}

pub async fn start_proxy(config: EgressConfig) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut proxy = start_proxy_on(listener, config);
    proxy.addr = Some(addr);
    proxy
}

pub fn start_proxy_on(listener: impl Listener, config: EgressConfig) -> Proxy {
    let gate = Arc::new(RecordingGate::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(warrant_egress::serve(
        listener,
        AGENT.to_owned(),
        config,
        Arc::clone(&gate),
        shutdown.clone(),
    ));
    Proxy { addr: None, gate, shutdown, task }
}

/// What the upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The server name the client sent, over TLS.
    pub sni: Option<String>,
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

pub const UPSTREAM_BODY: &str = "hello from upstream";
/// The length of the body served at `/big`.
pub const BIG_BODY_LEN: usize = 3 * 1024 * 1024;

/// A hyper HTTP/1.1 server on 127.0.0.1:0 that records each request and
/// answers with [`UPSTREAM_BODY`] (or [`BIG_BODY_LEN`] bytes at `/big`) and a few hop-by-hop headers of its own.
pub async fn start_upstream() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let record = Arc::clone(&record);
            let service = service_fn(move |req: Request<Incoming>| {
                let record = Arc::clone(&record);
                async move {
                    let (parts, body) = req.into_parts();
                    let (reply, extra) = reply_to(&parts);
                    let reason = reason_for(&parts);
                    let body =
                        body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                    record.lock().unwrap().push(Seen {
                        method: parts.method.to_string(),
                        uri: parts.uri.to_string(),
                        headers: parts.headers,
                        body,
                        sni: None,
                    });
                    let mut response = Response::builder()
                        .header("x-upstream", "yes")
                        .header("connection", "x-hop")
                        .header("x-hop", "hop-only")
                        .header("keep-alive", "timeout=5");
                    for (name, value) in extra {
                        response = response.header(name, value);
                    }
                    if let Some(reason) = reason {
                        response = response.extension(reason);
                    }
                    Ok::<_, Infallible>(response.body(Full::new(reply)).unwrap())
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream { addr, seen }
}

/// How many times `/reflect` repeats the request's `Authorization` value,
/// each after a little more padding, so some copies straddle the chunks the
/// body arrives in.
pub const REFLECTIONS: usize = 48;

/// What the test upstreams answer to a request, besides their own headers:
/// `/big`: [`BIG_BODY_LEN`] bytes; `/reflect`: the request's
/// `Authorization` value [`REFLECTIONS`] times in the body, and once in an
/// `x-echo` header (a server that reflects credentials); `/gzip`: a body
/// marked `Content-Encoding: gzip`; otherwise [`UPSTREAM_BODY`].
pub fn reply_to(parts: &http::request::Parts) -> (Bytes, Vec<(&'static str, String)>) {
    match parts.uri.path() {
        "/big" => (Bytes::from(vec![b'x'; BIG_BODY_LEN]), vec![]),
        "/reflect" => {
            let auth = parts
                .headers
                .get("authorization")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            (Bytes::from(reflection(&auth)), vec![("x-echo", auth)])
        }
        "/gzip" => (
            Bytes::from_static(b"\x1f\x8b not really gzip"),
            vec![("content-encoding", "gzip".to_owned())],
        ),
        _ => (Bytes::from(UPSTREAM_BODY), vec![]),
    }
}

/// The reason phrase an upstream answers `/reflect` with: it quotes the
/// credential too, where only the status line can carry it.
pub fn reason_for(parts: &http::request::Parts) -> Option<hyper::ext::ReasonPhrase> {
    if parts.uri.path() != "/reflect" {
        return None;
    }
    let auth = parts.headers.get("authorization")?.as_bytes();
    hyper::ext::ReasonPhrase::try_from([b"Reflected ".as_slice(), auth].concat()).ok()
}

/// The body `/reflect` sends for `auth`.
pub fn reflection(auth: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..REFLECTIONS {
        body.extend(std::iter::repeat_n(b'.', 997 + i * 331));
        body.extend_from_slice(format!("[{auth}]").as_bytes());
    }
    body
}

/// A TCP echo server on 127.0.0.1:0.
pub async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// A listener that counts the connections it accepts (and holds them open),
/// calling `on_accept` for each before counting.
pub struct Sentinel {
    pub addr: SocketAddr,
    pub accepts: Arc<AtomicUsize>,
}

pub async fn start_sentinel(bind: &str, on_accept: impl Fn() + Send + 'static) -> Sentinel {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepts);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            on_accept();
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    Sentinel { addr, accepts }
}

impl Sentinel {
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

/// A response as raw text: status, head, body.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Raw {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Raw { status, head: head.to_owned(), body: body.to_owned() }
    }

    /// Whether the head has a header named `name` (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        self.head.lines().skip(1).any(|line| {
            line.split_once(':').is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
    }
}

/// Writes `request` and reads until the peer closes (or 10 s pass).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> Raw {
    stream.write_all(request.as_bytes()).await.unwrap();
    Raw::parse(&read_to_close(&mut stream).await)
}

pub async fn read_to_close<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("peer closes within 10 s");
    buf
}

/// Sends a GET through the proxy with `Connection: close`.
pub async fn proxy_get(proxy: SocketAddr, url: &str) -> Raw {
    let stream = TcpStream::connect(proxy).await.unwrap();
    exchange(
        stream,
        &format!("GET {url} HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Sends a CONNECT through the proxy with `Connection: close` and reads the
/// whole answer: for refusals.
pub async fn proxy_connect_refused(proxy: SocketAddr, target: &str) -> Raw {
    let stream = TcpStream::connect(proxy).await.unwrap();
    exchange(
        stream,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Opens a tunnel: returns the response head's status and the stream.
pub async fn open_tunnel(proxy: SocketAddr, target: &str) -> (u16, TcpStream) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("CONNECT answered within 10 s")
            .unwrap();
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (Raw::parse(&head).status, stream)
}
