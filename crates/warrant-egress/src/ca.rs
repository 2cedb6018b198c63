//! The local certificate authority that intercepted tunnels are terminated
//! with: a self-signed ECDSA P-256 CA that only sandboxes trust, and the leaf
//! certificates it mints for each host on demand.
//!
//! Every leaf of one [`LocalCa`] shares one key pair, made with the instance:
//! minting is then one signature. Leaves are valid from an hour ago for a day
//! and are cached per host (at most [`MAX_LEAVES`], minted again after
//! [`LEAF_REUSE`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use crate::target::Host;

/// Most hosts whose leaf is kept; the oldest is dropped beyond.
const MAX_LEAVES: usize = 1024;
/// Age after which a cached leaf is minted again (it is valid for a day).
const LEAF_REUSE: Duration = Duration::from_secs(12 * 60 * 60);
const LEAF_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// How far back certificates start, for clients whose clock is behind.
const BACKDATE: Duration = Duration::from_secs(60 * 60);
/// The name of the leaf [`LocalCa::from_pem`] mints to check the pair.
const SELF_TEST_HOST: &str = "warrant-self-test.invalid";

/// A certificate authority that mints a leaf certificate for any host. Its
/// private key never leaves it except once, from [`LocalCa::generate`], for
/// the embedder to store; `Debug` shows no key material.
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    /// The public half of the key every leaf of this instance certifies.
    leaf_public: SubjectPublicKeyInfo,
    leaf_signer: Arc<dyn rustls::sign::SigningKey>,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<String, Leaf>>,
}

/// Why a CA could not be made, loaded, or mint. Each message carries its
/// cause's too, since the proxy sends it to the client as text; the cause is
/// also kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("generating the CA failed: {0}")]
    Generate(#[source] rcgen::Error),
    #[error("the CA certificate PEM could not be read: {0}")]
    CertificatePem(#[source] rustls::pki_types::pem::Error),
    #[error("the CA certificate PEM could not be read: {0}")]
    Certificate(#[source] rcgen::Error),
    #[error("the CA private key PEM could not be read: {0}")]
    Key(#[source] rcgen::Error),
    #[error("the CA key and certificate do not issue verifiable leaves: {0}")]
    Mismatch(#[source] rustls::Error),
    #[error("minting a certificate for `{host}` failed: {source}")]
    Mint {
        host: String,
        #[source]
        source: MintError,
    },
}

/// Why a certificate could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(transparent)]
    Certificate(#[from] rcgen::Error),
    #[error(transparent)]
    Tls(#[from] rustls::Error),
    #[error("no randomness for a serial")]
    Serial,
}

struct Leaf {
    key: Arc<CertifiedKey>,
    minted: SystemTime,
}

impl LocalCa {
    /// A new CA named `common_name` (basic constraints CA with path length
    /// 0, key usage certificate and CRL signing; valid from an hour ago for
    /// ten years), and its private key as PKCS#8 PEM, for the embedder to
    /// keep secret and give back to [`LocalCa::from_pem`].
    pub fn generate(common_name: &str) -> Result<(Self, Zeroizing<String>), CaError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = KeyPair::generate().map_err(CaError::Generate)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = SystemTime::now();
        params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
        params.not_after = now.checked_add(CA_LIFETIME).unwrap_or(now).into();
        params.serial_number = Some(
            serial(&provider)
                .map_err(|source| CaError::Mint { host: common_name.to_owned(), source })?,
        );
        let cert = params.self_signed(&key).map_err(CaError::Generate)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        let issuer = Issuer::new(params, key);
        let ca = Self::assemble(issuer, cert.der().clone(), cert.pem(), provider)?;
        Ok((ca, key_pem))
    }

    /// The CA from its certificate and private key, as PEM. The pair is
    /// checked by minting a leaf and verifying it against the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = KeyPair::from_pem(key_pem).map_err(CaError::Key)?;
        let der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(CaError::CertificatePem)?;
        let issuer = Issuer::from_ca_cert_der(&der, key).map_err(CaError::Certificate)?;
        let ca = Self::assemble(issuer, der, cert_pem.to_owned(), provider)?;
        let host = Host::Name(SELF_TEST_HOST.to_owned());
        let leaf = ca.mint(&host, SystemTime::now())?;
        ca.verify(&leaf, SELF_TEST_HOST).map_err(CaError::Mismatch)?;
        Ok(ca)
    }

    /// The CA certificate as PEM: what sandboxes are told to trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The crypto provider of the CA's TLS settings.
    pub(crate) fn provider(&self) -> &Arc<CryptoProvider> {
        &self.provider
    }

    /// The leaf for `host`, from the cache or minted now.
    pub(crate) fn leaf(&self, host: &Host) -> Result<Arc<CertifiedKey>, CaError> {
        let name = host.text();
        let now = SystemTime::now();
        let fresh = |leaf: &Leaf| now.duration_since(leaf.minted).is_ok_and(|age| age < LEAF_REUSE);
        if let Ok(leaves) = self.leaves.lock()
            && let Some(leaf) = leaves.get(&name).filter(|leaf| fresh(leaf))
        {
            return Ok(Arc::clone(&leaf.key));
        }
        let key = Arc::new(self.mint(host, now)?);
        if let Ok(mut leaves) = self.leaves.lock() {
            if leaves.len() >= MAX_LEAVES && !leaves.contains_key(&name) {
                let oldest = leaves.iter().min_by_key(|(_, leaf)| leaf.minted);
                if let Some(oldest) = oldest.map(|(host, _)| host.clone()) {
                    leaves.remove(&oldest);
                }
            }
            leaves.insert(name, Leaf { key: Arc::clone(&key), minted: now });
        }
        Ok(key)
    }

    /// Number of leaves cached.
    #[cfg(test)]
    fn cached(&self) -> usize {
        self.leaves.lock().map_or(0, |leaves| leaves.len())
    }

    fn assemble(
        issuer: Issuer<'static, KeyPair>,
        cert_der: CertificateDer<'static>,
        cert_pem: String,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, CaError> {
        let leaf_error = |source: MintError| CaError::Mint { host: "*".to_owned(), source };
        let leaf_key = KeyPair::generate().map_err(|err| leaf_error(err.into()))?;
        let leaf_public = SubjectPublicKeyInfo::from_der(&leaf_key.subject_public_key_info())
            .map_err(|err| leaf_error(err.into()))?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let leaf_signer =
            provider.key_provider.load_private_key(der).map_err(|err| leaf_error(err.into()))?;
        Ok(Self {
            issuer,
            cert_pem,
            cert_der,
            leaf_public,
            leaf_signer,
            provider,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// A leaf for `host`: SAN the name (or the IP address), EKU serverAuth,
    /// valid from an hour before `now` for a day.
    fn mint(&self, host: &Host, now: SystemTime) -> Result<CertifiedKey, CaError> {
        let failed = |source: MintError| CaError::Mint { host: host.text(), source };
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host.text());
        params.distinguished_name = name;
        params.subject_alt_names = vec![match host {
            Host::Ip(ip) => SanType::IpAddress(*ip),
            Host::Name(name) => SanType::DnsName(
                name.clone().try_into().map_err(|err| failed(MintError::from(err)))?,
            ),
        }];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
        params.not_after = now.checked_add(LEAF_LIFETIME).unwrap_or(now).into();
        params.serial_number = Some(serial(&self.provider).map_err(failed)?);
        let cert =
            params.signed_by(&self.leaf_public, &self.issuer).map_err(|err| failed(err.into()))?;
        Ok(CertifiedKey::new(vec![cert.der().clone()], Arc::clone(&self.leaf_signer)))
    }

    /// Verifies `leaf` for `name` as a client trusting only this CA would.
    pub(crate) fn verify(&self, leaf: &CertifiedKey, name: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone())?;
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&self.provider),
        )
        .build()
        .map_err(|err| rustls::Error::General(err.to_string()))?;
        let name = ServerName::try_from(name.to_owned())
            .map_err(|err| rustls::Error::General(err.to_string()))?;
        let (end_entity, intermediates) = leaf
            .cert
            .split_first()
            .ok_or_else(|| rustls::Error::General("empty certificate chain".to_owned()))?;
        verifier.verify_server_cert(end_entity, intermediates, &name, &[], UnixTime::now())?;
        Ok(())
    }
}

impl fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The issuer's own Debug elides its key.
        f.debug_struct("LocalCa")
            .field("issuer", &self.issuer)
            .field("leaves_cached", &self.leaves.lock().map_or(0, |leaves| leaves.len()))
            .finish_non_exhaustive()
    }
}

/// A random positive 128-bit serial number: leaves share a key, so their
/// serials must not be derived from it.
fn serial(provider: &CryptoProvider) -> Result<SerialNumber, MintError> {
    let mut bytes = [0u8; 16];
    // `GetRandomFailed` says nothing more than that it failed.
    provider.secure_random.fill(&mut bytes).map_err(|_| MintError::Serial)?;
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7f) | 0x40;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn name(host: &str) -> Host {
        Host::Name(host.to_owned())
    }

    #[test]
    fn leaf_is_valid_for_its_host_and_no_other() {
        let (ca, _key) = LocalCa::generate("Warrant test CA").unwrap();
        let leaf = ca.leaf(&name("api.example.com")).unwrap();
        ca.verify(&leaf, "api.example.com").unwrap();
        let err = ca.verify(&leaf, "evil.example.com").unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
        let ip = ca.leaf(&Host::Ip("192.0.2.7".parse().unwrap())).unwrap();
        ca.verify(&ip, "192.0.2.7").unwrap();
        assert!(ca.verify(&ip, "192.0.2.8").is_err());
    }

    #[test]
    fn leaf_from_another_ca_does_not_verify() {
        let (ca, _) = LocalCa::generate("one").unwrap();
        let (other, _) = LocalCa::generate("two").unwrap();
        let leaf = other.leaf(&name("api.example.com")).unwrap();
        assert!(ca.verify(&leaf, "api.example.com").is_err());
    }

    #[test]
    fn pem_round_trip_keeps_issuing_for_the_same_certificate() {
        let (ca, key_pem) = LocalCa::generate("Warrant local CA").unwrap();
        let loaded = LocalCa::from_pem(ca.cert_pem(), &key_pem).unwrap();
        assert_eq!(loaded.cert_der(), ca.cert_der());
        // A leaf of the loaded CA verifies against the original certificate.
        let leaf = loaded.leaf(&name("api.example.com")).unwrap();
        ca.verify(&leaf, "api.example.com").unwrap();
    }

    #[test]
    fn from_pem_refuses_a_key_of_another_ca() {
        let (ca, _) = LocalCa::generate("one").unwrap();
        let (_, other_key) = LocalCa::generate("two").unwrap();
        let err = LocalCa::from_pem(ca.cert_pem(), &other_key).unwrap_err();
        assert!(matches!(err, CaError::Mismatch(_)), "{err}");
        assert!(matches!(LocalCa::from_pem("nonsense", "nonsense"), Err(CaError::Key(_))));
        let (_, key) = LocalCa::generate("three").unwrap();
        assert!(matches!(LocalCa::from_pem("nonsense", &key), Err(CaError::CertificatePem(_))));
    }

    #[test]
    fn leaves_are_cached_per_host_and_the_cache_is_bounded() {
        let (ca, _) = LocalCa::generate("cache").unwrap();
        let first = ca.leaf(&name("a.example")).unwrap();
        let again = ca.leaf(&name("a.example")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        for i in 0..MAX_LEAVES + 5 {
            ca.leaf(&name(&format!("h{i}.example"))).unwrap();
        }
        assert_eq!(ca.cached(), MAX_LEAVES);
    }

    #[test]
    fn serials_differ_between_leaves() {
        let (ca, _) = LocalCa::generate("serials").unwrap();
        let a = ca.mint(&name("a.example"), SystemTime::now()).unwrap();
        let b = ca.mint(&name("a.example"), SystemTime::now()).unwrap();
        assert_ne!(a.cert[0], b.cert[0]);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (ca, key_pem) = LocalCa::generate("debug").unwrap();
        let shown = format!("{ca:?}");
        assert!(shown.contains("LocalCa"), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        let body: String =
            key_pem.lines().filter(|line| !line.starts_with("-----")).collect::<String>();
        assert!(!shown.contains(&body[..16]), "{shown}");
        assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
