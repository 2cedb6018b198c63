//! Key derivation, key wrapping and value sealing.
//!
//! The passphrase goes through Argon2id to a 32-byte master secret, from which
//! two values are derived with SHA-256 under distinct labels: the key-encryption
//! key (KEK), and a public check value stored in the vault. The check tells a
//! wrong passphrase apart from a corrupt wrapped key; it gives an attacker no
//! more than the wrapped key's own tag already does (both need the Argon2id
//! work per guess).
//!
//! The KEK wraps a random 32-byte data key with XChaCha20-Poly1305; the data
//! key seals each credential value with a fresh 24-byte nonce. Every seal
//! carries associated data that names what it protects, so a ciphertext is
//! only accepted in the place it was written for.

use crate::{SecretValue, VaultError};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const SALT_LEN: usize = 16;

/// The lowest Argon2id cost accepted: m = 64 MiB, t = 3, p = 1.
const MIN_MEMORY_KIB: u32 = 64 * 1024;
const MIN_ITERATIONS: u32 = 3;
/// The highest cost accepted, so that an edited vault file cannot make unlock
/// allocate without bound: m = 4 GiB, t = 64, p = 16.
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

/// Argon2id cost parameters. Stored in the vault so they can be raised later
/// ([`crate::UnlockedVault::rewrap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// The default and minimum: m = 64 MiB, t = 3, p = 1.
    pub const fn recommended() -> Self {
        Self { memory_kib: MIN_MEMORY_KIB, iterations: MIN_ITERATIONS, parallelism: 1 }
    }

    /// Custom costs, refused below [`KdfParams::recommended`] or above the
    /// vault's maximum (4 GiB, t = 64, p = 16).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, VaultError> {
        if memory_kib < MIN_MEMORY_KIB || iterations < MIN_ITERATIONS || parallelism < 1 {
            return Err(VaultError::KdfTooWeak {
                memory_kib,
                iterations,
                parallelism,
                min_memory_kib: MIN_MEMORY_KIB,
                min_iterations: MIN_ITERATIONS,
            });
        }
        if memory_kib > MAX_MEMORY_KIB
            || iterations > MAX_ITERATIONS
            || parallelism > MAX_PARALLELISM
        {
            return Err(VaultError::KdfTooCostly { memory_kib, iterations, parallelism });
        }
        Ok(Self { memory_kib, iterations, parallelism })
    }

    /// A cost so low that it protects nothing (m = 8 KiB, t = 1): for tests
    /// only, behind the `test-kdf` feature that only dev-dependencies enable.
    #[cfg(feature = "test-kdf")]
    pub const fn danger_insecure_for_tests() -> Self {
        INSECURE_FOR_TESTS
    }

    /// Parameters read back from a vault file: the same bounds as
    /// [`KdfParams::new`], except the test cost when the feature is on.
    pub(crate) fn from_stored(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, VaultError> {
        #[cfg(feature = "test-kdf")]
        {
            let stored = Self { memory_kib, iterations, parallelism };
            if stored == INSECURE_FOR_TESTS {
                return Ok(stored);
            }
        }
        Self::new(memory_kib, iterations, parallelism)
    }

    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }
}

#[cfg(feature = "test-kdf")]
const INSECURE_FOR_TESTS: KdfParams = KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 };

/// A 32-byte symmetric key (the KEK or the data key). No `Debug`, no `Clone`;
/// zeroized on drop.
pub(crate) struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    pub(crate) fn random() -> Result<Self, VaultError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(bytes.as_mut_slice(), "generate a data key")?;
        Ok(Self(bytes))
    }

    /// The key as bytes, for the key cache to hand to the kernel.
    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A key read back from the key cache.
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self(bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.0).into())
    }
}

/// What the passphrase yields: the KEK and the public check value.
pub(crate) struct Derived {
    pub(crate) kek: Key,
    pub(crate) check: [u8; 32],
}

/// Runs Argon2id over the passphrase and splits the result.
pub(crate) fn derive(
    passphrase: &SecretValue,
    salt: &[u8],
    params: KdfParams,
) -> Result<Derived, VaultError> {
    let argon_params =
        Params::new(params.memory_kib, params.iterations, params.parallelism, Some(KEY_LEN))
            .map_err(|e| VaultError::Kdf { reason: e.to_string() })?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut master = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase.expose_secret(), salt, master.as_mut_slice())
        .map_err(|e| VaultError::Kdf { reason: e.to_string() })?;

    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    let mut hasher = Sha256::new();
    hasher.update(b"warrant-vault-v1 key-encryption-key\0");
    hasher.update(master.as_slice());
    kek.copy_from_slice(&hasher.finalize());

    let mut hasher = Sha256::new();
    hasher.update(b"warrant-vault-v1 passphrase-check\0");
    hasher.update(master.as_slice());
    Ok(Derived { kek: Key(kek), check: hasher.finalize().into() })
}

/// Encrypts `plaintext` under `key` with a fresh random nonce and `aad`.
pub(crate) fn seal(
    key: &Key,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce, "generate a nonce").map_err(|_| SealError::Random)?;
    let mut buffer = Zeroizing::new(plaintext.to_vec());
    key.cipher()
        .encrypt_in_place(&XNonce::from(nonce), aad, &mut *buffer)
        .map_err(|_| SealError::Cipher)?;
    // The buffer now holds ciphertext; take it out of the zeroizing wrapper.
    Ok((nonce, std::mem::take(&mut *buffer)))
}

/// Decrypts and authenticates; `None` when the tag does not verify.
pub(crate) fn open(
    key: &Key,
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    key.cipher().decrypt_in_place(&XNonce::from(nonce), aad, &mut *buffer).ok()?;
    Some(buffer)
}

/// Unwraps a data key sealed by [`seal`].
pub(crate) fn open_key(key: &Key, nonce: &[u8], wrapped: &[u8], aad: &[u8]) -> Option<Key> {
    let plain = open(key, nonce, wrapped, aad)?;
    let bytes: [u8; KEY_LEN] = plain.as_slice().try_into().ok()?;
    Some(Key(Zeroizing::new(bytes)))
}

/// Wraps a data key under the KEK.
pub(crate) fn seal_key(
    kek: &Key,
    key: &Key,
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), SealError> {
    seal(kek, key.0.as_slice(), aad)
}

pub(crate) enum SealError {
    Random,
    Cipher,
}

pub(crate) fn fill_random(out: &mut [u8], operation: &'static str) -> Result<(), VaultError> {
    getrandom::fill(out).map_err(|_| VaultError::Random { operation })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::{KdfParams, Key, open, seal};

    #[test]
    fn sealed_value_opens_only_with_the_same_aad() {
        let key = Key::random().unwrap();
        let Ok((nonce, ct)) = seal(&key, b"value", b"aad-1") else { panic!("seal") };
        assert_eq!(open(&key, &nonce, &ct, b"aad-1").unwrap().as_slice(), b"value");
        assert!(open(&key, &nonce, &ct, b"aad-2").is_none());
    }

    #[test]
    fn two_seals_use_different_nonces() {
        let key = Key::random().unwrap();
        let Ok((n1, c1)) = seal(&key, b"value", b"a") else { panic!("seal") };
        let Ok((n2, c2)) = seal(&key, b"value", b"a") else { panic!("seal") };
        assert_ne!(n1, n2);
        assert_ne!(c1, c2);
    }

    #[test]
    fn params_below_minimum_or_above_maximum_are_refused() {
        assert!(KdfParams::new(65536, 3, 1).is_ok());
        assert!(KdfParams::new(65535, 3, 1).is_err());
        assert!(KdfParams::new(65536, 2, 1).is_err());
        assert!(KdfParams::new(65536, 3, 0).is_err());
        assert!(KdfParams::new(u32::MAX, 3, 1).is_err());
        assert!(KdfParams::from_stored(1024, 1, 1).is_err());
    }
}
