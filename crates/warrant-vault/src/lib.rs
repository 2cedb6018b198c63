//! Warrant's credential vault: the only crate that handles secret key material.
//!
//! It stores the credentials that Warrant injects on an agent's behalf (API
//! tokens, passwords) so that the agent itself never holds them:
//!
//! - [`Vault`] / [`UnlockedVault`]: a SQLite file (mode 0600, WAL) in which each
//!   credential's value is sealed with XChaCha20-Poly1305 under a random data
//!   key; the data key is wrapped under a key derived from the operator's
//!   passphrase with Argon2id. The credential's name and binding (hosts, header,
//!   environment variable) are authenticated with its value, so a ciphertext
//!   moved to another row, or a binding edited in the file, fails to decrypt.
//! - [`SecretValue`]: a secret that has no `Debug`, `Display`, `Clone` or
//!   `Serialize`, is zeroized on drop, and is read only through
//!   [`SecretValue::expose_secret`].
//! - [`scan::LeakScanner`]: finds known secrets, raw or encoded (base64, hex,
//!   URL, JSON), in bytes that are about to leave, and redacts them.
//!
//! What it deliberately does not do: decide who may use a credential (that is
//! policy), inject it into requests (that is the gateway and egress proxy), or
//! protect secrets from a process that can read this process's memory. Metadata
//! (names, hosts, timestamps) is not secret and is stored in the clear.

mod crypto;
mod error;
mod name;
pub mod scan;
mod secret;
mod store;

pub use crypto::KdfParams;
pub use error::VaultError;
pub use name::CredentialName;
pub use secret::SecretValue;
pub use store::{Binding, CredentialInfo, UnlockedVault, Vault};
