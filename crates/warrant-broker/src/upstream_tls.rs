//! How Warrant itself reaches an upstream over TLS when it carries a
//! credential there (`warrant__http_request`, and a `warrant run` proxy
//! that injects one): the Mozilla roots plus the CA files the operator
//! configured, and nothing an agent can change.

use std::sync::Arc;

/// The TLS client configuration: the Web PKI roots and the operator's CAs.
/// Built once per gateway (the CA files are read at the first https request).
pub fn client_config(ca_files: &[std::path::PathBuf]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for path in ca_files {
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("warrant: CA file `{}`: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("warrant: CA file `{}`: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("warrant: CA in `{}` is unusable: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("warrant: TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
