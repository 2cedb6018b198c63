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

use crate::crypto::{self, KdfParams, Key, NONCE_LEN, SALT_LEN, SealError};
use crate::{CredentialName, SecretValue, VaultError};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::fs::{OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use warrant_core::UnixMillis;

const FORMAT: &str = "warrant-vault-v1";
const KDF_NAME: &str = "argon2id-v19";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const INFO_COLUMNS: &str = "name, hosts, header_name, header_format, env_var, created_at, \
     rotated_at, last_used_at, rotation_due_at";

/// Where and how a credential may be used. Part of what its ciphertext
/// authenticates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// Hosts the credential may be sent to (lowercased when stored).
    pub hosts: Vec<String>,
    /// The HTTP header that carries it, e.g. `Authorization`.
    pub header: Option<String>,
    /// The header value with `{}` where the secret goes, e.g. `Bearer {}`;
    /// `{}` when a header is given without a format.
    pub format: Option<String>,
    /// The environment variable that carries it to a child process.
    pub env: Option<String>,
}

/// A credential's metadata, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    pub name: CredentialName,
    pub binding: Binding,
    pub created_at: UnixMillis,
    pub rotated_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
    pub rotation_due_at: Option<UnixMillis>,
}

/// Entry points that do not need an unlocked vault.
pub struct Vault;

impl Vault {
    /// Creates a new vault file at `path` (mode 0600) under `passphrase`, and
    /// returns it unlocked. Refuses an existing file and an empty passphrase.
    pub fn create(
        path: &Path,
        passphrase: &SecretValue,
        params: KdfParams,
    ) -> Result<UnlockedVault, VaultError> {
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
        let aad = data_key_aad(meta.params, &meta.salt);
        let data_key = crypto::open_key(&derived.kek, &meta.key_nonce, &meta.wrapped_key, &aad)
            .ok_or(VaultError::Corrupt {
                path: path.to_owned(),
                what: "the data key failed authentication",
            })?;
        Ok(UnlockedVault { conn: Mutex::new(conn), path: path.to_owned(), data_key })
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

/// An open vault holding the data key. `Send + Sync`; calls are serialized.
pub struct UnlockedVault {
    conn: Mutex<Connection>,
    path: PathBuf,
    data_key: Key,
}

impl UnlockedVault {
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

/// The `meta` row as stored.
struct Meta {
    params: KdfParams,
    salt: Vec<u8>,
    check: Vec<u8>,
    key_nonce: Vec<u8>,
    wrapped_key: Vec<u8>,
}

/// A data key wrapped under a passphrase, ready to store.
struct Wrapped {
    salt: [u8; SALT_LEN],
    check: [u8; 32],
    nonce: [u8; NONCE_LEN],
    wrapped_key: Vec<u8>,
}

fn initialize(
    path: &Path,
    passphrase: &SecretValue,
    params: KdfParams,
) -> Result<UnlockedVault, VaultError> {
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
    Ok(UnlockedVault { conn: Mutex::new(conn), path: path.to_owned(), data_key })
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, VaultError> {
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

fn wrap(
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
    Ok(Wrapped { salt, check: derived.check, nonce, wrapped_key })
}

fn read_meta(conn: &Connection, path: &Path) -> Result<Meta, VaultError> {
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

fn list(conn: &Connection, path: &Path) -> Result<Vec<CredentialInfo>, VaultError> {
    let sql = |source| VaultError::Sqlite { operation: "list", path: path.to_owned(), source };
    let mut stmt = conn
        .prepare(&format!("SELECT {INFO_COLUMNS} FROM credentials ORDER BY name"))
        .map_err(sql)?;
    let rows = stmt.query_map([], RawInfo::from_row).map_err(sql)?;
    let mut infos = Vec::new();
    for row in rows {
        infos.push(row.map_err(sql)?.parse(path)?);
    }
    Ok(infos)
}

fn read_info(
    conn: &Connection,
    path: &Path,
    name: &CredentialName,
) -> Result<Option<CredentialInfo>, VaultError> {
    let sql = |source| VaultError::Sqlite { operation: "read", path: path.to_owned(), source };
    conn.query_row(
        &format!("SELECT {INFO_COLUMNS} FROM credentials WHERE name = ?1"),
        [name.as_str()],
        RawInfo::from_row,
    )
    .optional()
    .map_err(sql)?
    .map(|raw| raw.parse(path))
    .transpose()
}

/// A `credentials` row's metadata before parsing.
struct RawInfo {
    name: String,
    hosts: String,
    header: Option<String>,
    format: Option<String>,
    env: Option<String>,
    times: (i64, Option<i64>, Option<i64>, Option<i64>),
}

impl RawInfo {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            name: row.get(0)?,
            hosts: row.get(1)?,
            header: row.get(2)?,
            format: row.get(3)?,
            env: row.get(4)?,
            times: (row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?),
        })
    }

    fn parse(self, path: &Path) -> Result<CredentialInfo, VaultError> {
        let corrupt = |what| VaultError::Corrupt { path: path.to_owned(), what };
        let name = CredentialName::new(&self.name)
            .map_err(|_| corrupt("a credential has an invalid name"))?;
        let hosts: Vec<String> = serde_json::from_str(&self.hosts)
            .map_err(|_| corrupt("a credential's hosts are not a JSON list"))?;
        let (created, rotated, used, due) = self.times;
        Ok(CredentialInfo {
            name,
            binding: Binding { hosts, header: self.header, format: self.format, env: self.env },
            created_at: UnixMillis(created),
            rotated_at: rotated.map(UnixMillis),
            last_used_at: used.map(UnixMillis),
            rotation_due_at: due.map(UnixMillis),
        })
    }
}

/// Associated data for the wrapped data key: the format and KDF inputs.
fn data_key_aad(params: KdfParams, salt: &[u8]) -> Vec<u8> {
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

/// Associated data for a credential: the format, its name and its binding.
/// The name has no NUL, so the encoding is unambiguous.
fn credential_aad(name: &CredentialName, binding: &Binding) -> Vec<u8> {
    let mut aad = format!("{FORMAT}\0credential\0{name}\0").into_bytes();
    // Serializing a struct of strings cannot fail; an empty tail would still
    // be bound to the name.
    aad.extend_from_slice(&serde_json::to_vec(binding).unwrap_or_default());
    aad
}

fn hosts_json(hosts: &[String]) -> String {
    serde_json::to_string(hosts).unwrap_or_else(|_| "[]".to_owned())
}

/// Validates a binding and puts it in its stored form.
fn normalize(name: &CredentialName, binding: Binding) -> Result<Binding, VaultError> {
    let invalid = |reason: String| VaultError::InvalidBinding { name: name.to_string(), reason };
    let mut hosts = Vec::with_capacity(binding.hosts.len());
    for host in binding.hosts {
        let host = host.to_ascii_lowercase();
        let ok = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-*:[]".contains(&b));
        if !ok {
            return Err(invalid(format!("host `{host}` is not a host name")));
        }
        hosts.push(host);
    }
    if let Some(header) = &binding.header {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if header.is_empty() || header.len() > 64 || !header.bytes().all(token) {
            return Err(invalid(format!("header `{header}` is not an HTTP header name")));
        }
    }
    let format = match (&binding.header, binding.format) {
        (None, Some(_)) => return Err(invalid("a header format needs a header".to_owned())),
        (None, None) => None,
        (Some(_), None) => Some("{}".to_owned()),
        (Some(_), Some(format)) => {
            if format.matches("{}").count() != 1
                || format.len() > 256
                || format.bytes().any(|b| b.is_ascii_control())
            {
                return Err(invalid(
                    "the header format must contain `{}` exactly once and no control characters"
                        .to_owned(),
                ));
            }
            Some(format)
        }
    };
    if let Some(env) = &binding.env {
        let ok = env.len() <= 128
            && env.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(invalid(format!("`{env}` is not an environment variable name")));
        }
    }
    Ok(Binding { hosts, header: binding.header, format, env: binding.env })
}
