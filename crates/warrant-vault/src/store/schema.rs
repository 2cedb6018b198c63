//! The file itself and its `meta` row: creating and opening the SQLite
//! database, and the wrapped data key with the KDF parameters it was wrapped
//! under.

use super::UnlockedVault;
use crate::crypto::{self, KdfParams, Key, NONCE_LEN, SALT_LEN, SealError};
use crate::{SecretValue, VaultError};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::time::Duration;
use warrant_core::UnixMillis;

pub(super) const FORMAT: &str = "warrant-vault-v1";
const KDF_NAME: &str = "argon2id-v19";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `meta` row as stored.
pub(super) struct Meta {
    pub(super) params: KdfParams,
    pub(super) salt: Vec<u8>,
    pub(super) check: Vec<u8>,
    pub(super) key_nonce: Vec<u8>,
    pub(super) wrapped_key: Vec<u8>,
}

/// A data key wrapped under a passphrase, ready to store.
pub(super) struct Wrapped {
    pub(super) salt: [u8; SALT_LEN],
    pub(super) check: [u8; 32],
    pub(super) nonce: [u8; NONCE_LEN],
    pub(super) wrapped_key: Vec<u8>,
    /// The key the passphrase derived, for the key cache.
    pub(super) kek: Key,
}

/// Creates the tables and the `meta` row; the vault unlocked, and the key
/// the passphrase derived.
pub(super) fn initialize(
    path: &Path,
    passphrase: &SecretValue,
    params: KdfParams,
) -> Result<(UnlockedVault, Key), VaultError> {
    let sql =
        |operation| move |source| VaultError::Sqlite { operation, path: path.to_owned(), source };
    let mut conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let data_key = Key::random()?;
    let wrapped = wrap(&data_key, passphrase, params)?;
    let tx =
        conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql("create"))?;
    tx.execute_batch(
        "CREATE TABLE meta (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             format TEXT NOT NULL,
             kdf TEXT NOT NULL,
             kdf_memory_kib INTEGER NOT NULL,
             kdf_iterations INTEGER NOT NULL,
             kdf_parallelism INTEGER NOT NULL,
             salt BLOB NOT NULL,
             passphrase_check BLOB NOT NULL,
             key_nonce BLOB NOT NULL,
             wrapped_key BLOB NOT NULL,
             created_at INTEGER NOT NULL
         );
         CREATE TABLE credentials (
             name TEXT PRIMARY KEY NOT NULL,
             ciphertext BLOB NOT NULL,
             nonce BLOB NOT NULL,
             hosts TEXT NOT NULL,
             header_name TEXT,
             header_format TEXT,
             env_var TEXT,
             created_at INTEGER NOT NULL,
             rotated_at INTEGER,
             last_used_at INTEGER,
             rotation_due_at INTEGER
         );",
    )
    .map_err(sql("create"))?;
    tx.execute(
        "INSERT INTO meta (id, format, kdf, kdf_memory_kib, kdf_iterations, kdf_parallelism,
             salt, passphrase_check, key_nonce, wrapped_key, created_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            FORMAT,
            KDF_NAME,
            params.memory_kib(),
            params.iterations(),
            params.parallelism(),
            wrapped.salt.as_slice(),
            wrapped.check.as_slice(),
            wrapped.nonce.as_slice(),
            wrapped.wrapped_key,
            UnixMillis::now().0
        ],
    )
    .map_err(sql("create"))?;
    tx.commit().map_err(sql("create"))?;
    Ok((UnlockedVault::from_parts(conn, path.to_owned(), data_key), wrapped.kek))
}

pub(super) fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, VaultError> {
    let sql = |source| VaultError::Sqlite { operation: "open", path: path.to_owned(), source };
    let conn =
        Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    if !flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY) {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(VaultError::NotWal { path: path.to_owned(), mode });
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
    }
    Ok(conn)
}

pub(super) fn wrap(
    data_key: &Key,
    passphrase: &SecretValue,
    params: KdfParams,
) -> Result<Wrapped, VaultError> {
    let mut salt = [0u8; SALT_LEN];
    crypto::fill_random(&mut salt, "generate a salt")?;
    let derived = crypto::derive(passphrase, &salt, params)?;
    let (nonce, wrapped_key) = crypto::seal_key(
        &derived.kek,
        data_key,
        &data_key_aad(params, &salt),
    )
    .map_err(|e| match e {
        SealError::Random => VaultError::Random { operation: "generate a nonce" },
        SealError::Cipher => VaultError::Kdf { reason: "could not wrap the data key".into() },
    })?;
    Ok(Wrapped { salt, check: derived.check, nonce, wrapped_key, kek: derived.kek })
}

pub(super) fn read_meta(conn: &Connection, path: &Path) -> Result<Meta, VaultError> {
    let corrupt = |what| VaultError::Corrupt { path: path.to_owned(), what };
    let row = conn
        .query_row(
            "SELECT format, kdf, kdf_memory_kib, kdf_iterations, kdf_parallelism, salt,
                 passphrase_check, key_nonce, wrapped_key FROM meta WHERE id = 1",
            [],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    (row.get::<_, u32>(2)?, row.get::<_, u32>(3)?, row.get::<_, u32>(4)?),
                    row.get::<_, Vec<u8>>(5)?,
                    row.get::<_, Vec<u8>>(6)?,
                    row.get::<_, Vec<u8>>(7)?,
                    row.get::<_, Vec<u8>>(8)?,
                ))
            },
        )
        .optional()
        .map_err(|_| corrupt("its header cannot be read"))?;
    let (format, kdf, (m, t, p), salt, check, key_nonce, wrapped_key) =
        row.ok_or_else(|| corrupt("its header is missing"))?;
    if format != FORMAT {
        return Err(VaultError::UnsupportedFormat {
            path: path.to_owned(),
            found: format,
            expected: FORMAT,
        });
    }
    if kdf != KDF_NAME {
        return Err(corrupt("it names an unknown key derivation function"));
    }
    let params = KdfParams::from_stored(m, t, p)?;
    if salt.len() != SALT_LEN || check.len() != 32 || key_nonce.len() != NONCE_LEN {
        return Err(corrupt("a header field has the wrong length"));
    }
    Ok(Meta { params, salt, check, key_nonce, wrapped_key })
}

/// The data key in `meta`, unwrapped with `kek`; `None` when it fails
/// authentication (the wrong key, or a tampered header).
pub(super) fn open_data_key(meta: &Meta, kek: &Key) -> Option<Key> {
    let aad = data_key_aad(meta.params, &meta.salt);
    crypto::open_key(kek, &meta.key_nonce, &meta.wrapped_key, &aad)
}

/// Associated data for the wrapped data key: the format and KDF inputs.
pub(super) fn data_key_aad(params: KdfParams, salt: &[u8]) -> Vec<u8> {
    let mut aad = format!(
        "{FORMAT}\0data-key\0{KDF_NAME}\0{}\0{}\0{}\0",
        params.memory_kib(),
        params.iterations(),
        params.parallelism()
    )
    .into_bytes();
    aad.extend_from_slice(salt);
    aad
}
