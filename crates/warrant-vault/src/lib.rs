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
//!   URL and form encoding, JSON escapes, UTF-16) and in disguise
//!   (separators, format characters, compatibility forms, HTML references,
//!   case, line-wrapped base64, invisible tag characters, rotations, C
//!   escapes, lists of byte values), in bytes that are about to leave, also split
//!   across consecutive fields, and redacts them; [`scan::StreamRedactor`]
//!   masks the exact forms in a stream that arrives in chunks, keeping its
//!   length; [`fragments::Exposure`] keeps what of each secret went out in a
//!   session and refuses a message once half of one would have.
//! - [`placeholder_for`]: a [`Placeholder`] shaped like a secret (same length,
//!   prefix and character classes, at least 64 random bits) for an agent to
//!   hold in the secret's place.
//! - [`swap::Swapper`]: replaces placeholders by their secrets in a request
//!   (as bytes) to a credential's bound hosts ([`host_matches`]), and refuses
//!   the request with the reasons when it carries a placeholder bound
//!   elsewhere or any real secret. Swapping never changes a length.
//! - [`rules::RuleSet`]: finds credentials that are not in the vault by their
//!   well-known formats (AWS, GitHub, Slack, private keys, …): a keyword
//!   prefilter, then a regex per rule, measured for false positives against
//!   a corpus of ordinary tool output.
//!
//! - [`KeyCache`]: an optional cache, in the operator's OS keychain (the
//!   Linux kernel's user keyring), of the key a passphrase derives, with a
//!   timeout; a cached key that does not open the vault is discarded.
//!
//! What it deliberately does not do: decide who may use a credential (that is
//! policy), parse or send HTTP (the gateway and egress proxy hand requests to
//! [`swap::Swapper`] as bytes and act on its answer), or protect secrets from
//! a process that can read this process's memory. Metadata (names, hosts,
//! timestamps) and placeholders are not secret; metadata is stored in the
//! clear.

mod crypto;
mod disguise;
mod error;
mod forms;
pub mod fragments;
mod host;
pub mod keycache;
mod name;
pub mod placeholder;
mod recoded;
pub mod rules;
pub mod scan;
mod secret;
mod skeleton;
mod store;
pub mod swap;

pub use crypto::KdfParams;
pub use error::VaultError;
pub use host::host_matches;
pub use keycache::{KeyCache, KeychainUnavailable};
pub use name::CredentialName;
pub use placeholder::{Placeholder, placeholder_for};
pub use secret::SecretValue;
pub use store::{Binding, CredentialInfo, UnlockedVault, Vault};
