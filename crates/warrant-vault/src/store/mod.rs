//! The vault file: SQLite, mode 0600, WAL.
//!
//! Two tables. `meta` holds one row: the format, the Argon2id parameters and
//! salt, the passphrase check value and the wrapped data key. `credentials`
//! holds one row per credential: its sealed value and nonce, its binding
//! (hosts, header, environment variable) and timestamps.
//!
//! The binding is authenticated with the value (it is part of the associated
//! data), so editing a credential's hosts in the file makes the credential fail
//! to open instead of sending it somewhere else. Timestamps are not
//! authenticated. [`Vault::list_locked`] reads metadata without the passphrase
//! and so cannot authenticate it.
//!
//! The code is in three parts: `schema` creates and opens the file and
//! handles the `meta` row (format, KDF parameters, wrapped data key);
//! `credentials` holds the binding and metadata types and the `credentials`
//! rows' parsing and validation; `unlocked` is the vault holding the data key.

mod credentials;
mod schema;
mod unlocked;

pub use credentials::{Binding, CredentialInfo};
pub use unlocked::UnlockedVault;

use crate::crypto;
use crate::keycache::KeyCache;
use crate::{SecretValue, VaultError};
use credentials::list;
use rusqlite::OpenFlags;
use schema::{connect, initialize, open_data_key, read_meta};
use std::fs::{OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Entry points that do not need an unlocked vault.
pub struct Vault;

impl Vault {
    /// Creates a new vault file at `path` (mode 0600) under `passphrase`, and
    /// returns it unlocked. Refuses an existing file and an empty passphrase.
    pub fn create(
        path: &Path,
        passphrase: &SecretValue,
        params: crypto::KdfParams,
    ) -> Result<UnlockedVault, VaultError> {
        Self::create_inner(path, passphrase, params).map(|(vault, _)| vault)
    }

    /// [`Vault::create`], then caches the key the passphrase derived in
    /// `cache`, as [`Vault::unlock_caching`] does (without deriving it again).
    pub fn create_caching(
        path: &Path,
        passphrase: &SecretValue,
        params: crypto::KdfParams,
        cache: &KeyCache,
    ) -> Result<(UnlockedVault, Result<(), VaultError>), VaultError> {
        let (vault, kek) = Self::create_inner(path, passphrase, params)?;
        let cached = cache.store(&kek);
        Ok((vault, cached))
    }

    fn create_inner(
        path: &Path,
        passphrase: &SecretValue,
        params: crypto::KdfParams,
    ) -> Result<(UnlockedVault, crypto::Key), VaultError> {
        if passphrase.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(file) => file
                .set_permissions(Permissions::from_mode(0o600))
                .map_err(|source| VaultError::File { path: path.to_owned(), source })?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(VaultError::AlreadyExists { path: path.to_owned() });
            }
            Err(source) => return Err(VaultError::File { path: path.to_owned(), source }),
        }
        let created = initialize(path, passphrase, params);
        if created.is_err() {
            // Leave no half-made vault behind to block a retry; the error that
            // matters is the one above.
            let _ = std::fs::remove_file(path);
        }
        created
    }

    /// Opens the vault at `path` with `passphrase`.
    pub fn unlock(path: &Path, passphrase: &SecretValue) -> Result<UnlockedVault, VaultError> {
        Self::unlock_inner(path, passphrase).map(|(vault, _)| vault)
    }

    /// Opens the vault at `path` with `passphrase`, then caches the key the
    /// passphrase derived in `cache` (see [`KeyCache`]). A cache that cannot
    /// be written is reported in the second value; the vault is open either
    /// way.
    pub fn unlock_caching(
        path: &Path,
        passphrase: &SecretValue,
        cache: &KeyCache,
    ) -> Result<(UnlockedVault, Result<(), VaultError>), VaultError> {
        let (vault, kek) = Self::unlock_inner(path, passphrase)?;
        let cached = cache.store(&kek);
        Ok((vault, cached))
    }

    /// Opens the vault at `path` with the key an earlier
    /// [`Vault::unlock_caching`] left in `cache`: `None` when there is no
    /// live entry, or it does not open this vault's data key (a changed
    /// passphrase, a forged entry), which is then removed.
    pub fn unlock_cached(
        path: &Path,
        cache: &KeyCache,
    ) -> Result<Option<UnlockedVault>, VaultError> {
        if !path.exists() {
            return Err(VaultError::NotFound { path: path.to_owned() });
        }
        let Some(kek) = cache.load() else { return Ok(None) };
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let meta = read_meta(&conn, path)?;
        match open_data_key(&meta, &kek) {
            Some(data_key) => Ok(Some(UnlockedVault::from_parts(conn, path.to_owned(), data_key))),
            None => {
                let _ = cache.clear();
                Ok(None)
            }
        }
    }

    fn unlock_inner(
        path: &Path,
        passphrase: &SecretValue,
    ) -> Result<(UnlockedVault, crypto::Key), VaultError> {
        if !path.exists() {
            return Err(VaultError::NotFound { path: path.to_owned() });
        }
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let meta = read_meta(&conn, path)?;
        let derived = crypto::derive(passphrase, &meta.salt, meta.params)?;
        // The check value is public (see `crypto`), so a plain comparison
        // leaks nothing an attacker lacks.
        if derived.check.as_slice() != meta.check.as_slice() {
            return Err(VaultError::WrongPassphrase { path: path.to_owned() });
        }
        let data_key = open_data_key(&meta, &derived.kek).ok_or(VaultError::Corrupt {
            path: path.to_owned(),
            what: "the data key failed authentication",
        })?;
        Ok((UnlockedVault::from_parts(conn, path.to_owned(), data_key), derived.kek))
    }

    /// Lists credentials' metadata without the passphrase (metadata is not
    /// secret). Opens the file read-only; the result is not authenticated.
    pub fn list_locked(path: &Path) -> Result<Vec<CredentialInfo>, VaultError> {
        if !path.exists() {
            return Err(VaultError::NotFound { path: path.to_owned() });
        }
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        read_meta(&conn, path)?;
        list(&conn, path)
    }
}
