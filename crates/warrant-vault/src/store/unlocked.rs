//! The vault once unlocked: it holds the data key and one SQLite connection,
//! and adds, reads, rotates and removes credentials.

use super::credentials::{
    Binding, CredentialInfo, credential_aad, hosts_json, list, normalize, read_info,
};
use super::schema::wrap;
use crate::crypto::{self, KdfParams, Key, NONCE_LEN, SealError};
use crate::{CredentialName, SecretValue, VaultError};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use warrant_core::UnixMillis;

/// An open vault holding the data key. `Send + Sync`; calls are serialized.
pub struct UnlockedVault {
    conn: Mutex<Connection>,
    path: PathBuf,
    data_key: Key,
}

impl UnlockedVault {
    pub(super) fn from_parts(conn: Connection, path: PathBuf, data_key: Key) -> Self {
        Self { conn: Mutex::new(conn), path, data_key }
    }

    /// Adds a credential; refuses a name already in use.
    pub fn add(
        &self,
        name: &CredentialName,
        value: &SecretValue,
        binding: Binding,
    ) -> Result<(), VaultError> {
        let binding = normalize(name, binding)?;
        let (nonce, ciphertext) = self.seal(name, &binding, value)?;
        let hosts = hosts_json(&binding.hosts);
        let inserted = self.conn().execute(
            "INSERT INTO credentials (name, ciphertext, nonce, hosts, header_name, header_format,
                 env_var, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                name.as_str(),
                ciphertext,
                nonce.as_slice(),
                hosts,
                binding.header,
                binding.format,
                binding.env,
                UnixMillis::now().0
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(VaultError::CredentialExists { name: name.to_string() })
            }
            Err(source) => Err(self.sql("add a credential to")(source)),
        }
    }

    /// Decrypts a credential's value. A value that fails authentication (a
    /// flipped byte, a ciphertext moved from another row, an edited binding)
    /// is [`VaultError::CredentialTampered`], never garbage.
    pub fn get(&self, name: &CredentialName) -> Result<SecretValue, VaultError> {
        let conn = self.conn();
        self.open_row(&conn, name)
    }

    /// Every credential's metadata, by name.
    pub fn list(&self) -> Result<Vec<CredentialInfo>, VaultError> {
        list(&self.conn(), &self.path)
    }

    pub fn remove(&self, name: &CredentialName) -> Result<(), VaultError> {
        let removed = self
            .conn()
            .execute("DELETE FROM credentials WHERE name = ?1", [name.as_str()])
            .map_err(self.sql("remove a credential from"))?;
        if removed == 0 {
            return Err(VaultError::NoSuchCredential { name: name.to_string() });
        }
        Ok(())
    }

    /// Replaces a credential's value, keeping its binding. The old row is
    /// authenticated first, so a binding edited in the file is not re-sealed
    /// as genuine.
    pub fn rotate(&self, name: &CredentialName, new_value: &SecretValue) -> Result<(), VaultError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.sql("rotate a credential in"))?;
        drop(self.open_row(&tx, name)?);
        let info = read_info(&tx, &self.path, name)?
            .ok_or_else(|| VaultError::NoSuchCredential { name: name.to_string() })?;
        let (nonce, ciphertext) = self.seal(name, &info.binding, new_value)?;
        tx.execute(
            "UPDATE credentials SET ciphertext = ?2, nonce = ?3, rotated_at = ?4 WHERE name = ?1",
            params![name.as_str(), ciphertext, nonce.as_slice(), UnixMillis::now().0],
        )
        .map_err(self.sql("rotate a credential in"))?;
        tx.commit().map_err(self.sql("rotate a credential in"))
    }

    /// Records that the credential was used at `now`.
    pub fn mark_used(&self, name: &CredentialName, now: UnixMillis) -> Result<(), VaultError> {
        self.update_time(name, "last_used_at", Some(now))
    }

    /// Sets (or clears) when the credential is due for rotation.
    pub fn set_rotation_due(
        &self,
        name: &CredentialName,
        due: Option<UnixMillis>,
    ) -> Result<(), VaultError> {
        self.update_time(name, "rotation_due_at", due)
    }

    /// Re-wraps the data key under a new passphrase and/or stronger KDF
    /// parameters, with a fresh salt. Credential ciphertexts are unchanged.
    pub fn rewrap(
        &self,
        new_passphrase: &SecretValue,
        params: KdfParams,
    ) -> Result<(), VaultError> {
        if new_passphrase.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let wrapped = wrap(&self.data_key, new_passphrase, params)?;
        self.conn()
            .execute(
                "UPDATE meta SET kdf_memory_kib = ?1, kdf_iterations = ?2, kdf_parallelism = ?3,
                     salt = ?4, passphrase_check = ?5, key_nonce = ?6, wrapped_key = ?7
                 WHERE id = 1",
                params![
                    params.memory_kib(),
                    params.iterations(),
                    params.parallelism(),
                    wrapped.salt.as_slice(),
                    wrapped.check.as_slice(),
                    wrapped.nonce.as_slice(),
                    wrapped.wrapped_key
                ],
            )
            .map_err(self.sql("re-wrap the key of"))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave the connection in a
        // state worse than SQLite's own rollback.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sql(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> VaultError + '_ {
        move |source| VaultError::Sqlite { operation, path: self.path.clone(), source }
    }

    fn seal(
        &self,
        name: &CredentialName,
        binding: &Binding,
        value: &SecretValue,
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), VaultError> {
        crypto::seal(&self.data_key, value.expose_secret(), &credential_aad(name, binding)).map_err(
            |e| match e {
                SealError::Random => VaultError::Random { operation: "generate a nonce" },
                SealError::Cipher => VaultError::Encrypt { name: name.to_string() },
            },
        )
    }

    fn open_row(
        &self,
        conn: &Connection,
        name: &CredentialName,
    ) -> Result<SecretValue, VaultError> {
        let sealed: Option<(Vec<u8>, Vec<u8>)> = conn
            .query_row(
                "SELECT ciphertext, nonce FROM credentials WHERE name = ?1",
                [name.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.sql("read a credential from"))?;
        let (ciphertext, nonce) =
            sealed.ok_or_else(|| VaultError::NoSuchCredential { name: name.to_string() })?;
        let tampered = || VaultError::CredentialTampered { name: name.to_string() };
        let info = read_info(conn, &self.path, name)?.ok_or_else(tampered)?;
        let aad = credential_aad(name, &info.binding);
        let mut plain =
            crypto::open(&self.data_key, &nonce, &ciphertext, &aad).ok_or_else(tampered)?;
        Ok(SecretValue::new(std::mem::take(&mut *plain)))
    }

    fn update_time(
        &self,
        name: &CredentialName,
        column: &'static str,
        at: Option<UnixMillis>,
    ) -> Result<(), VaultError> {
        let updated = self
            .conn()
            .execute(
                &format!("UPDATE credentials SET {column} = ?2 WHERE name = ?1"),
                params![name.as_str(), at.map(|t| t.0)],
            )
            .map_err(self.sql("update a credential in"))?;
        if updated == 0 {
            return Err(VaultError::NoSuchCredential { name: name.to_string() });
        }
        Ok(())
    }
}
