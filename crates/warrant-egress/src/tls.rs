//! The TLS settings of an intercepted tunnel: toward the client, the host's
//! leaf served only to a client that names that host; toward the upstream,
//! the name it is verified for.

use std::sync::{Arc, Mutex};

use rustls::ServerConfig;
use rustls::pki_types::{InvalidDnsNameError, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::ca::{CaError, LocalCa};
use crate::target::{self, Host};

/// The only application protocol spoken on either side of an intercepted
/// tunnel.
pub(crate) const HTTP_1_1: &[u8] = b"http/1.1";

/// TLS server settings for one tunnel: `host`'s leaf from `ca` (minted or
/// cached), ALPN http/1.1 only; and the resolver, which tells whether it
/// refused a client for naming another host.
pub(crate) fn server_config(
    ca: &LocalCa,
    host: &Host,
) -> Result<(Arc<ServerConfig>, Arc<OneHost>), CaError> {
    let leaf = ca.leaf(host)?;
    let sni = Arc::new(OneHost { host: host.text(), leaf, refused: Mutex::new(None) });
    let failed = |err: rustls::Error| CaError::Mint { host: host.text(), source: err.into() };
    let mut config = ServerConfig::builder_with_provider(Arc::clone(ca.provider()))
        .with_safe_default_protocol_versions()
        .map_err(failed)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&sni) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![HTTP_1_1.to_vec()];
    Ok((Arc::new(config), sni))
}

/// The name the upstream's certificate is verified for (and sent as SNI,
/// unless an IP address).
pub(crate) fn server_name(host: &Host) -> Result<ServerName<'static>, InvalidDnsNameError> {
    match host {
        Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        Host::Name(name) => ServerName::try_from(name.clone()),
    }
}

/// Serves one host's leaf, and refuses a client hello naming another host.
#[derive(Debug)]
pub(crate) struct OneHost {
    host: String,
    leaf: Arc<CertifiedKey>,
    /// The name a refused client offered, for the record.
    refused: Mutex<Option<String>>,
}

impl OneHost {
    /// The name of another host a client offered, if one was refused.
    pub(crate) fn refused(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|slot| slot.clone())
    }
}

impl ResolvesServerCert for OneHost {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(named) = hello.server_name() else {
            // No SNI (e.g. an IP literal): the Host check still applies.
            return Some(Arc::clone(&self.leaf));
        };
        let named = named.strip_suffix('.').unwrap_or(named);
        if named.eq_ignore_ascii_case(&self.host) {
            return Some(Arc::clone(&self.leaf));
        }
        if let Ok(mut slot) = self.refused.lock() {
            *slot = Some(target::excerpt(named));
        }
        None
    }
}
