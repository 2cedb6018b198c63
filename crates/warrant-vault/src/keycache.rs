//! An optional cache of a vault's key-encryption key in the operator's OS
//! keychain, so that a passphrase typed once opens the vault again for a
//! while without Argon2id or a prompt.
//!
//! On Linux the keychain is the kernel's key retention service: the entry is a
//! `user` key in the operator's user keyring (`@u`), named after the vault's
//! path, holding the 32-byte key that the passphrase derives (the KEK), with
//! a kernel timeout so it disappears on its own. The KEK, not the data key, is
//! cached because it verifies itself: it must open the vault's wrapped data
//! key (XChaCha20-Poly1305), so a stale entry (the passphrase was changed) or
//! a forged one fails authentication, is discarded, and the passphrase is
//! asked for as if there were no cache.
//!
//! What it does not protect against: any process of the operator's uid that
//! can call `keyctl` can read the entry while it lives, as it could read a
//! passphrase in the environment. Warrant's sandboxes cannot (seccomp denies
//! `keyctl`, `add_key` and `request_key`). Where there is no keyring (another
//! OS, or `keyctl` refused), the cache is unavailable and every unlock asks
//! for the passphrase; it never falls back to storing the key anywhere else.

use crate::VaultError;
use crate::crypto::{KEY_LEN, Key};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

/// The longest time a key may be cached.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The cache entry of one vault.
#[derive(Debug, Clone)]
pub struct KeyCache {
    description: String,
    ttl: Duration,
}

impl KeyCache {
    /// The entry for the vault at `path`, kept for `ttl` (1 s to
    /// [`MAX_TTL`]) after each store. It is named after the canonical path,
    /// so `path`'s directory must exist (the vault itself need not yet).
    pub fn new(path: &Path, ttl: Duration) -> Result<Self, VaultError> {
        if ttl < Duration::from_secs(1) || ttl > MAX_TTL {
            return Err(VaultError::KeyCache {
                reason: format!("a key cache time of {} s is outside 1 s to 24 h", ttl.as_secs()),
            });
        }
        let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let canonical = path
            .parent()
            .map(|dir| if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
            .ok_or_else(not_found)
            .and_then(std::fs::canonicalize)
            .and_then(|dir| path.file_name().map(|name| dir.join(name)).ok_or_else(not_found))
            .map_err(|source| VaultError::File { path: path.to_owned(), source })?;
        let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        let description =
            format!("warrant:vault-key:{}", hex::encode(digest.get(..16).unwrap_or_default()));
        Ok(Self { description, ttl })
    }

    /// The name of the entry in the keyring (not secret: it is derived from
    /// the vault's path).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether this host has a keychain the cache can use, and if not, why.
    pub fn available() -> Result<(), KeychainUnavailable> {
        os::available()
    }

    /// Removes the entry; whether there was one.
    pub fn clear(&self) -> Result<bool, VaultError> {
        os::clear(&self.description)
    }

    /// The cached key, if there is a live entry of the right size.
    pub(crate) fn load(&self) -> Option<Key> {
        os::load(&self.description)
    }

    /// Caches `kek` for the TTL; an entry that cannot be given its timeout is
    /// removed again rather than left without one.
    pub(crate) fn store(&self, kek: &Key) -> Result<(), VaultError> {
        os::store(&self.description, kek, self.ttl)
    }
}

/// Why this host has no keychain the cache can use.
#[derive(Debug, thiserror::Error)]
pub enum KeychainUnavailable {
    #[cfg(target_os = "linux")]
    #[error("the kernel keyring cannot be used (keyctl may be refused here)")]
    Keyring(#[source] linux_keyutils::KeyError),
    #[cfg(not(target_os = "linux"))]
    #[error("no OS keychain is supported on this platform")]
    Unsupported,
}

fn cache_error(what: &str, error: impl std::fmt::Debug) -> VaultError {
    VaultError::KeyCache { reason: format!("{what}: {error:?}") }
}

#[cfg(target_os = "linux")]
mod os {
    use super::{KEY_LEN, Key, KeychainUnavailable, Zeroizing, cache_error};
    use crate::VaultError;
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};
    use std::time::Duration;

    fn user_keyring() -> Result<KeyRing, KeyError> {
        KeyRing::from_special_id(KeyRingIdentifier::User, true)
    }

    pub(super) fn available() -> Result<(), KeychainUnavailable> {
        user_keyring().map(|_| ()).map_err(KeychainUnavailable::Keyring)
    }

    pub(super) fn load(description: &str) -> Option<Key> {
        let key = user_keyring().ok()?.search(description).ok()?;
        // One byte more than a key, to tell a longer (foreign) entry apart.
        let mut buffer = Zeroizing::new([0u8; KEY_LEN + 1]);
        let len = key.read(&mut *buffer).ok()?;
        if len != KEY_LEN {
            let _ = key.invalidate();
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(buffer.get(..KEY_LEN)?);
        Some(Key::from_bytes(bytes))
    }

    pub(super) fn store(description: &str, kek: &Key, ttl: Duration) -> Result<(), VaultError> {
        let ring = user_keyring().map_err(|e| cache_error("the user keyring", e))?;
        let key = ring
            .add_key(description, kek.expose().as_slice())
            .map_err(|e| cache_error("adding the key", e))?;
        let seconds = usize::try_from(ttl.as_secs()).unwrap_or(usize::MAX);
        if let Err(e) = key.set_timeout(seconds) {
            let _ = key.invalidate();
            return Err(cache_error("setting the key's timeout", e));
        }
        Ok(())
    }

    pub(super) fn clear(description: &str) -> Result<bool, VaultError> {
        let ring = user_keyring().map_err(|e| cache_error("the user keyring", e))?;
        match ring.search(description) {
            Ok(key) => {
                key.invalidate().map_err(|e| cache_error("removing the key", e))?;
                Ok(true)
            }
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                Ok(false)
            }
            Err(e) => Err(cache_error("looking the key up", e)),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use super::{Key, KeychainUnavailable, VaultError};
    use std::time::Duration;

    pub(super) fn available() -> Result<(), KeychainUnavailable> {
        Err(KeychainUnavailable::Unsupported)
    }

    pub(super) fn load(_description: &str) -> Option<Key> {
        None
    }

    pub(super) fn store(_description: &str, _kek: &Key, _ttl: Duration) -> Result<(), VaultError> {
        Err(VaultError::KeyCache { reason: KeychainUnavailable::Unsupported.to_string() })
    }

    pub(super) fn clear(_description: &str) -> Result<bool, VaultError> {
        Ok(false)
    }
}
