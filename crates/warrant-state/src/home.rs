//! The home directory: layout, creation, and loading of what lives there.
//!
//! ```text
//! <home>/warrant.toml          configuration
//! <home>/policy/*.cedar        policies (schema.cedarschema beside them, for reference)
//! <home>/keys/root.key         identity root key (Ed25519, 0600)
//! <home>/keys/audit.key        audit checkpoint signing key (Ed25519, 0600)
//! <home>/keys/audit.pub        its public key, for `warrant audit verify`
//! <home>/state.db              agent registry, tool pins
//! <home>/audit.db              the audit log
//! <home>/vault.db              the credential vault (0600; values sealed under the passphrase)
//! <home>/ca.pem                the local CA certificate sandboxes trust (its key is in the vault)
//! <home>/run/control.sock      the running gateway's control socket (0600)
//! ```
//! The home and `keys/` are 0700: agents run as other users or in a sandbox
//! that does not see them.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A home directory, resolved but not necessarily created.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

/// Something in the home could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot {action} `{path}`: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error(
        "`{path}` is readable or writable by other users (mode {mode:o}); run `chmod 700 {path}`"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("`{path}` is not a valid key file")]
    BadKey { path: String },
    #[error("no Warrant home at `{0}`; run `warrant init` first")]
    Missing(String),
    #[error("cannot create `{path}`")]
    Identity {
        path: String,
        #[source]
        source: Box<warrant_identity::IdentityError>,
    },
    #[error("cannot create `{path}`")]
    Audit {
        path: String,
        #[source]
        source: Box<warrant_audit::AuditError>,
    },
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> HomeError + 'p {
    move |source| HomeError::Io { action, path: path.display().to_string(), source }
}

impl Home {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("warrant.toml")
    }
    pub fn policy_dir(&self) -> PathBuf {
        self.root.join("policy")
    }
    pub fn root_key(&self) -> PathBuf {
        self.root.join("keys").join("root.key")
    }
    pub fn audit_key(&self) -> PathBuf {
        self.root.join("keys").join("audit.key")
    }
    pub fn audit_public_key(&self) -> PathBuf {
        self.root.join("keys").join("audit.pub")
    }
    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }
    pub fn audit_db(&self) -> PathBuf {
        self.root.join("audit.db")
    }
    pub fn vault(&self) -> PathBuf {
        self.root.join("vault.db")
    }
    pub fn local_ca(&self) -> PathBuf {
        self.root.join("ca.pem")
    }
    pub fn control_socket(&self) -> PathBuf {
        self.root.join("run").join("control.sock")
    }

    pub fn exists(&self) -> bool {
        self.config().is_file() && self.root_key().is_file()
    }

    /// Fails unless the home was initialised, and is private.
    pub fn check(&self) -> Result<(), HomeError> {
        if !self.exists() {
            return Err(HomeError::Missing(self.root.display().to_string()));
        }
        for dir in [self.root.clone(), self.root.join("keys")] {
            let mode = fs::metadata(&dir).map_err(io("read", &dir))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(HomeError::TooOpen {
                    path: dir.display().to_string(),
                    mode: mode & 0o777,
                });
            }
        }
        Ok(())
    }

    /// Creates whatever is missing; never overwrites. Returns what it created.
    pub fn init(&self) -> Result<Vec<PathBuf>, HomeError> {
        let mut created = Vec::new();
        for dir in
            [self.root.clone(), self.root.join("keys"), self.root.join("run"), self.policy_dir()]
        {
            if !dir.exists() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(io("create", &dir))?;
                created.push(dir);
            }
        }
        if write_new(&self.config(), crate::config::DEFAULT_CONFIG.as_bytes(), 0o600)? {
            created.push(self.config());
        }
        let has_policy = fs::read_dir(self.policy_dir())
            .map_err(io("read", &self.policy_dir()))?
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "cedar"));
        let default_policy = self.policy_dir().join("default.cedar");
        if !has_policy
            && write_new(&default_policy, warrant_policy::DEFAULT_POLICY.as_bytes(), 0o600)?
        {
            created.push(default_policy);
        }
        // The schema is the project's, not the operator's: keep it current.
        let schema = self.policy_dir().join("schema.cedarschema");
        fs::write(&schema, warrant_policy::SCHEMA).map_err(io("write", &schema))?;
        if !self.root_key().exists() {
            warrant_identity::RootKey::create(&self.root_key()).map_err(|e| {
                HomeError::Identity {
                    path: self.root_key().display().to_string(),
                    source: Box::new(e),
                }
            })?;
            created.push(self.root_key());
        }
        if !self.audit_key().exists() {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut_slice()).map_err(|e| {
                io("generate", &self.audit_key())(std::io::Error::other(e.to_string()))
            })?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let hex_seed = Zeroizing::new(hex::encode(seed.as_slice()));
            write_new(&self.audit_key(), hex_seed.as_bytes(), 0o600)?;
            let public = hex::encode(key.verifying_key().as_bytes());
            write_new(&self.audit_public_key(), public.as_bytes(), 0o644)?;
            created.push(self.audit_key());
        }
        // The stores exist from the start, empty: reading the log of a home
        // where nothing has happened yet is not an error.
        if !self.audit_db().exists() {
            let key = self.load_audit_key()?;
            let store = |e| HomeError::Audit {
                path: self.audit_db().display().to_string(),
                source: Box::new(e),
            };
            warrant_audit::AuditLog::open(&self.audit_db(), key, Default::default())
                .and_then(|log| log.close())
                .map_err(store)?;
            created.push(self.audit_db());
        }
        if !self.state_db().exists() {
            warrant_identity::Registry::open(&self.state_db()).map_err(|e| {
                HomeError::Identity {
                    path: self.state_db().display().to_string(),
                    source: Box::new(e),
                }
            })?;
            created.push(self.state_db());
        }
        Ok(created)
    }

    /// The audit signing key.
    pub fn load_audit_key(&self) -> Result<ed25519_dalek::SigningKey, HomeError> {
        let path = self.audit_key();
        let text = Zeroizing::new(fs::read_to_string(&path).map_err(io("read", &path))?);
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), seed.as_mut_slice())
            .map_err(|_| HomeError::BadKey { path: path.display().to_string() })?;
        Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The audit public key, for verification.
    pub fn load_audit_public_key(&self) -> Result<[u8; 32], HomeError> {
        let path = self.audit_public_key();
        let text = fs::read_to_string(&path).map_err(io("read", &path))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key)
            .map_err(|_| HomeError::BadKey { path: path.display().to_string() })?;
        Ok(key)
    }

    /// Policy files, sorted by name.
    pub fn read_policies(&self) -> Result<Vec<warrant_policy::PolicySource>, HomeError> {
        let dir = self.policy_dir();
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(io("read", &dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| {
                let text = fs::read_to_string(&p).map_err(io("read", &p))?;
                let name =
                    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(warrant_policy::PolicySource { name, text })
            })
            .collect()
    }
}

/// Writes `bytes` to a new file with `mode`; `false` if it already existed.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, HomeError> {
    let file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path);
    match file {
        Ok(mut f) => {
            f.write_all(bytes).map_err(io("write", path))?;
            f.sync_all().map_err(io("sync", path))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io("create", path)(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_a_private_home_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        let created = home.init().unwrap();
        assert!(created.contains(&home.config()));
        assert!(home.check().is_ok());
        let mode = fs::metadata(home.audit_key()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = home.load_audit_key().unwrap();
        assert_eq!(key.verifying_key().to_bytes(), home.load_audit_public_key().unwrap());
        assert!(home.init().unwrap().is_empty());
        assert_eq!(home.read_policies().unwrap().len(), 1);
    }

    #[test]
    fn an_open_home_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        home.init().unwrap();
        fs::set_permissions(home.root(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(home.check(), Err(HomeError::TooOpen { .. })));
    }

    #[test]
    fn a_store_init_cannot_create_keeps_the_reason_why() {
        // The registry's path leads nowhere (a link into a missing
        // directory): SQLite's reason reaches the operator under init's.
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        home.init().unwrap();
        fs::remove_file(home.state_db()).unwrap();
        std::os::unix::fs::symlink(dir.path().join("missing").join("state.db"), home.state_db())
            .unwrap();
        let error = home.init().unwrap_err();
        assert!(matches!(error, HomeError::Identity { .. }), "{error:?}");
        let mut causes = Vec::new();
        let mut next: Option<&dyn std::error::Error> = Some(&error);
        while let Some(cause) = next {
            causes.push(cause.to_string());
            next = cause.source();
        }
        let path = home.state_db().display().to_string();
        assert_eq!(causes[0], format!("cannot create `{path}`"));
        assert_eq!(causes[1], format!("cannot open the agent registry at `{path}`"));
        assert!(causes[2].contains("unable to open database file"), "{causes:?}");
    }
}
