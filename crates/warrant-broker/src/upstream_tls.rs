//! How Warrant itself reaches an upstream over TLS when it carries a
//! credential there (`warrant__http_request`, and a `warrant run` proxy
//! that injects one): the Mozilla roots plus the CA files the operator
//! configured, and nothing an agent can change.

use std::path::PathBuf;
use std::sync::Arc;

/// The TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("CA file `{}`", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("CA in `{}` is unusable", path.display())]
    CaUnusable {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("TLS")]
    Protocols(#[source] rustls::Error),
}

/// The TLS client configuration: the Web PKI roots and the operator's CAs.
pub fn tls_client_config(
    ca_files: &[PathBuf],
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for path in ca_files {
        let ca_file = |source| TlsConfigError::CaFile { path: path.clone(), source };
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(path).map_err(ca_file)? {
            roots
                .add(cert.map_err(ca_file)?)
                .map_err(|source| TlsConfigError::CaUnusable { path: path.clone(), source })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::Protocols)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_ca_file_is_named_with_its_cause() {
        let missing = PathBuf::from("no-such-dir/ca.pem");
        let Err(e) = tls_client_config(std::slice::from_ref(&missing)) else {
            panic!("a missing CA file was accepted");
        };
        assert!(matches!(e, TlsConfigError::CaFile { .. }), "{e:?}");
        // What was being read, and why not.
        use rustls::pki_types::pem::PemObject;
        let cause = rustls::pki_types::CertificateDer::pem_file_iter(&missing).err().unwrap();
        let text = warrant_core::text::with_causes(&e);
        assert_eq!(text, format!("CA file `no-such-dir/ca.pem`: {cause}"));
    }
}
