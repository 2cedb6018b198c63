//! The `credentials` rows: the binding and metadata types, reading them
//! back, the associated data that binds a value to its name and binding, and
//! the validation a binding passes before it is stored.

use super::schema::FORMAT;
use crate::{CredentialName, VaultError};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;
use warrant_core::UnixMillis;

pub(super) const INFO_COLUMNS: &str = "name, hosts, header_name, header_format, env_var, created_at, \
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

pub(super) fn list(conn: &Connection, path: &Path) -> Result<Vec<CredentialInfo>, VaultError> {
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

pub(super) fn read_info(
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

/// Associated data for a credential: the format, its name and its binding.
/// The name has no NUL, so the encoding is unambiguous.
pub(super) fn credential_aad(name: &CredentialName, binding: &Binding) -> Vec<u8> {
    let mut aad = format!("{FORMAT}\0credential\0{name}\0").into_bytes();
    // Serializing a struct of strings cannot fail; an empty tail would still
    // be bound to the name.
    aad.extend_from_slice(&serde_json::to_vec(binding).unwrap_or_default());
    aad
}

pub(super) fn hosts_json(hosts: &[String]) -> String {
    serde_json::to_string(hosts).unwrap_or_else(|_| "[]".to_owned())
}

/// Validates a binding and puts it in its stored form.
pub(super) fn normalize(name: &CredentialName, binding: Binding) -> Result<Binding, VaultError> {
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
