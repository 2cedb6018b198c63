//! TLS fixtures: a test PKI (a CA and a server certificate for `localhost`
//! and 127.0.0.1), an HTTPS upstream on it that records what it is sent, the
//! proxy's interception settings, and a client that opens TLS inside a
//! CONNECT tunnel.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use warrant_egress::{EgressConfig, Interception, LocalCa};

use super::{Proxy, Seen, local_config, open_tunnel, start_proxy};

/// A test CA and an upstream server configuration it certifies.
pub struct Pki {
    pub ca: CertificateDer<'static>,
    pub server: Arc<rustls::ServerConfig>,
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn pki() -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki { ca: ca.der().clone(), server: Arc::new(server) }
}

pub fn client_config(roots: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An HTTPS server on 127.0.0.1:0.
pub struct TlsUpstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// TCP connections accepted.
    pub accepts: Arc<AtomicUsize>,
}

impl TlsUpstream {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

/// Serves HTTPS with `pki`'s server certificate, answering as
/// [`super::reply_to`] says; closes each connection after one exchange unless
/// `keep_alive`.
pub async fn start_tls_upstream(pki: &Pki, keep_alive: bool) -> TlsUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let accepts = Arc::new(AtomicUsize::new(0));
    let acceptor = TlsAcceptor::from(Arc::clone(&pki.server));
    let (record, count) = (Arc::clone(&seen), Arc::clone(&accepts));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let (acceptor, record) = (acceptor.clone(), Arc::clone(&record));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else { return };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                let service = service_fn(move |req: Request<Incoming>| {
                    let (record, sni) = (Arc::clone(&record), sni.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let (reply, extra) = super::reply_to(&parts);
                        let reason = super::reason_for(&parts);
                        let body = body.collect().await.unwrap().to_bytes().to_vec();
                        record.lock().unwrap().push(Seen {
                            method: parts.method.to_string(),
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                            sni,
                        });
                        let mut response = Response::builder()
                            .header("x-upstream", "tls")
                            .header("x-warrant-egress", "forged");
                        for (name, value) in extra {
                            response = response.header(name, value);
                        }
                        if let Some(reason) = reason {
                            response = response.extension(reason);
                        }
                        Ok::<_, Infallible>(response.body(Full::new(reply)).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    TlsUpstream { addr, seen, accepts }
}

/// Interception with a fresh local CA, verifying upstreams against
/// `upstream_root` only.
pub fn interception(upstream_root: &CertificateDer<'static>) -> Arc<Interception> {
    let (ca, _key) = LocalCa::generate("Warrant test local CA").unwrap();
    Arc::new(Interception::new(ca, &client_config(std::slice::from_ref(upstream_root))))
}

/// [`local_config`] with `interception`.
pub fn intercepting(interception: &Arc<Interception>) -> EgressConfig {
    EgressConfig { interception: Some(Arc::clone(interception)), ..local_config() }
}

/// The local CA's certificate, for a client to trust.
pub fn local_ca(interception: &Interception) -> Vec<CertificateDer<'static>> {
    vec![interception.ca().cert_der().clone()]
}

/// Opens a tunnel to `target` through the proxy and a TLS session inside it
/// for `name` (an IP literal sends no SNI), trusting only `roots`.
pub async fn tls_through(
    proxy: SocketAddr,
    target: &str,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> std::io::Result<TlsStream<TcpStream>> {
    let (status, stream) = open_tunnel(proxy, target).await;
    assert_eq!(status, 200, "CONNECT {target}");
    let name = ServerName::try_from(name.to_owned()).unwrap();
    TlsConnector::from(client_config(roots)).connect(name, stream).await
}

/// An HTTP/1.1 client on `stream`, for several requests on one connection.
pub async fn http_client<S>(stream: S) -> SendRequest<Full<Bytes>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// Sends `request` and returns its status, headers and whole body.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> (u16, http::HeaderMap, String) {
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status.as_u16(), parts.headers, String::from_utf8_lossy(&body).into_owned())
}

/// An HTTPS upstream and a proxy that intercepts the tunnels to it: its
/// gate inspects, its interception trusts the upstream's CA.
pub struct Rig {
    pub pki: Pki,
    pub upstream: TlsUpstream,
    pub interception: Arc<Interception>,
    pub proxy: Proxy,
    /// The upstream's `127.0.0.1:port`.
    pub target: String,
}

/// A [`Rig`] whose upstream keeps connections alive, with `tune` applied to
/// the proxy's config.
pub async fn rig(tune: impl FnOnce(&mut EgressConfig)) -> Rig {
    rig_with(true, tune).await
}

pub async fn rig_with(keep_alive: bool, tune: impl FnOnce(&mut EgressConfig)) -> Rig {
    let pki = pki();
    let upstream = start_tls_upstream(&pki, keep_alive).await;
    let interception = interception(&pki.ca);
    let mut config = intercepting(&interception);
    tune(&mut config);
    let proxy = start_proxy(config).await;
    proxy.gate.inspect.store(true, Ordering::SeqCst);
    let target = upstream.addr.to_string();
    Rig { pki, upstream, interception, proxy, target }
}

impl Rig {
    /// The local CA, as a client of the proxy trusts it.
    pub fn roots(&self) -> Vec<CertificateDer<'static>> {
        local_ca(&self.interception)
    }

    /// A TLS session for 127.0.0.1 inside a new tunnel to the upstream.
    pub async fn tls(&self) -> TlsStream<TcpStream> {
        tls_through(self.proxy.addr(), &self.target, "127.0.0.1", &self.roots()).await.unwrap()
    }
}
