//! Credential brokering: Warrant uses the operator's credentials on an
//! agent's behalf so that the agent never holds them, and screens what
//! agents send and receive for them.
//!
//! - [`broker`]: the [`Broker`] holds the unlocked vault; a value is
//!   released only through [`Broker::authorize`] (binding, policy, lease).
//! - [`leak`]: secrets and well-known credentials in what an agent sends
//!   (blocked) and what comes back to it (cut out).
//! - [`connection`]: a connection screened, decided, asked about and
//!   recorded, for a `warrant run` proxy and `warrant__http_request`.
//! - [`upstream_tls`]: how Warrant reaches a host over TLS when it carries a
//!   credential there.
//!
//! Both `warrant up` and `warrant run` use it; so do the CLI's vault
//! commands.

pub mod broker;
pub mod connection;
pub mod leak;
pub mod upstream_tls;

pub use broker::{
    Authorized, Broker, BrokerError, Grant, Known, PASSPHRASE_ENV, PassphraseError, Use, Via,
    header_value, host_bound, lease_record, passphrase, unlock_vault,
};

/// The vault entry that holds the key of Warrant's local certificate
/// authority (the one `warrant run` proxies present to a sandbox).
pub const LOCAL_CA_CREDENTIAL: &str = "warrant-local-ca";
