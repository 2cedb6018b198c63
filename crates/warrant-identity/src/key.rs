//! The secrets of this crate: the root signing key and the token string.
//!
//! Neither type implements `Debug`, `Display`, `Clone` or `Serialize`, so a
//! secret cannot end up in a log line or a JSON response by accident. Both are
//! wiped from memory when dropped (the signing key by `ed25519-dalek`'s own
//! zeroize-on-drop, the token by [`Zeroizing`]).

use crate::{IdentityError, printable};
use biscuit_auth::KeyPair;
use biscuit_auth::builder::Algorithm;
use biscuit_auth::format::schema::public_key::Algorithm as KeyAlgorithm;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

/// How the key file starts; the same notation Biscuit's own tools use.
const KEY_PREFIX: &str = "ed25519-private/";
/// A key file is one short line; anything larger is not one of ours.
const MAX_KEY_FILE_BYTES: usize = 1024;
const KEY_HEX_CHARS: usize = 64;

/// The gateway's root signing key, the only holder of the private key.
///
/// Not printable, not cloneable:
///
/// ```compile_fail
/// fn needs_debug<T: std::fmt::Debug>() {}
/// needs_debug::<warrant_identity::RootKey>();
/// ```
pub struct RootKey {
    keypair: KeyPair,
}

impl RootKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self { keypair: KeyPair::new() }
    }

    /// Reads a key written by [`RootKey::create`]. Refuses a file that group
    /// or others may read, write or execute, as `ssh` does for private keys.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let read_error = |source| IdentityError::KeyFileRead { path: path.to_owned(), source };
        let format_error = || IdentityError::KeyFileFormat { path: path.to_owned() };

        let file = File::open(path).map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        if !metadata.is_file() {
            return Err(format_error());
        }
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::KeyFilePermissions { path: path.to_owned(), mode });
        }

        // Allocated once at full size so no copy of the key is left behind by
        // a reallocation.
        let mut text = Zeroizing::new(String::with_capacity(MAX_KEY_FILE_BYTES + 1));
        let limit = u64::try_from(MAX_KEY_FILE_BYTES + 1).unwrap_or(u64::MAX);
        match file.take(limit).read_to_string(&mut text) {
            Ok(n) if n <= MAX_KEY_FILE_BYTES => {}
            Ok(_) => return Err(format_error()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Err(format_error()),
            Err(source) => return Err(read_error(source)),
        }

        let hex_key = text
            .trim()
            .strip_prefix(KEY_PREFIX)
            .filter(|h| h.len() == KEY_HEX_CHARS)
            .ok_or_else(format_error)?;
        let mut bytes = Zeroizing::new([0_u8; 32]);
        hex::decode_to_slice(hex_key, bytes.as_mut_slice()).map_err(|_| format_error())?;
        let keypair = KeyPair::from_bytes(bytes.as_slice(), KeyAlgorithm::Ed25519)
            .map_err(|_| format_error())?;
        Ok(Self { keypair })
    }

    /// Generates a key and writes it to a new file with mode 0600. Refuses to
    /// overwrite an existing file (or follow a symlink placed at `path`).
    pub fn create(path: &Path) -> Result<Self, IdentityError> {
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(
                |source| {
                    if source.kind() == io::ErrorKind::AlreadyExists {
                        IdentityError::KeyFileExists { path: path.to_owned() }
                    } else {
                        IdentityError::KeyFileWrite { path: path.to_owned(), source }
                    }
                },
            )?;
        let key = Self::generate();
        if let Err(source) = key.write_to(&mut file) {
            drop(file);
            // A half-written key file would only fail to load later.
            let _ = fs::remove_file(path);
            return Err(IdentityError::KeyFileWrite { path: path.to_owned(), source });
        }
        Ok(key)
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.keypair.public())
    }

    pub(crate) fn keypair(&self) -> &KeyPair {
        &self.keypair
    }

    fn write_to(&self, file: &mut File) -> io::Result<()> {
        // The mode given at creation is masked by the umask; this is exact.
        file.set_permissions(Permissions::from_mode(0o600))?;
        let private = self.keypair.private();
        let bytes = private.to_bytes();
        let mut hex_key = Zeroizing::new([0_u8; KEY_HEX_CHARS]);
        hex::encode_to_slice(bytes.as_slice(), hex_key.as_mut_slice())
            .map_err(|_| io::Error::other("root key is not 32 bytes"))?;
        file.write_all(KEY_PREFIX.as_bytes())?;
        file.write_all(hex_key.as_slice())?;
        file.write_all(b"\n")?;
        file.sync_all()
    }
}

/// The root key's public half: what a verifier needs, safe to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(biscuit_auth::PublicKey);

impl PublicKey {
    /// The 32-byte key as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        self.0.to_bytes_hex()
    }

    pub fn from_hex(value: &str) -> Result<Self, IdentityError> {
        let refuse = || IdentityError::PublicKey { value: printable(value) };
        if value.len() != KEY_HEX_CHARS {
            return Err(refuse());
        }
        biscuit_auth::PublicKey::from_bytes_hex(value, Algorithm::Ed25519)
            .map(Self)
            .map_err(|_| refuse())
    }

    pub(crate) fn inner(&self) -> biscuit_auth::PublicKey {
        self.0
    }
}

/// An agent's credential as the agent presents it: a secret.
///
/// Not printable, not cloneable, not serializable; reach the text only
/// through the grep-able [`AgentToken::expose_secret`]:
///
/// ```compile_fail
/// fn needs_debug<T: std::fmt::Debug>() {}
/// needs_debug::<warrant_identity::AgentToken>();
/// ```
///
/// ```compile_fail
/// fn needs_clone<T: Clone>() {}
/// needs_clone::<warrant_identity::AgentToken>();
/// ```
pub struct AgentToken(Zeroizing<String>);

impl AgentToken {
    pub fn from_string(token: String) -> Self {
        Self(Zeroizing::new(token))
    }

    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir()
                .join(format!("warrant-identity-key-{}", warrant_core::AgentId::random()));
            fs::create_dir(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn created_key_file_is_private_and_loads_to_the_same_key() {
        let dir = TempDir::new();
        let path = dir.0.join("root.key");
        let created = RootKey::create(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        let loaded = RootKey::load(&path).unwrap();
        assert_eq!(loaded.public_key(), created.public_key());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(KEY_PREFIX), "{}", text.len());
    }

    #[test]
    fn create_refuses_to_overwrite_an_existing_file() {
        let dir = TempDir::new();
        let path = dir.0.join("root.key");
        let first = RootKey::create(&path).unwrap();
        let err = RootKey::create(&path).err().unwrap();
        assert!(matches!(err, IdentityError::KeyFileExists { .. }), "{err}");
        assert_eq!(RootKey::load(&path).unwrap().public_key(), first.public_key());
    }

    #[test]
    fn load_refuses_a_key_file_others_can_read() {
        let dir = TempDir::new();
        let path = dir.0.join("root.key");
        RootKey::create(&path).unwrap();
        for bad in [0o644, 0o640, 0o604, 0o620, 0o601] {
            fs::set_permissions(&path, Permissions::from_mode(bad)).unwrap();
            let err = RootKey::load(&path).err().unwrap();
            assert!(
                matches!(err, IdentityError::KeyFilePermissions { mode, .. } if mode == bad),
                "{bad:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        fs::set_permissions(&path, Permissions::from_mode(0o400)).unwrap();
        assert!(RootKey::load(&path).is_ok());
    }

    #[test]
    fn load_refuses_files_that_are_not_keys() {
        let dir = TempDir::new();
        for (i, content) in [
            &b""[..],
            b"ed25519-private/abcd\n",
            b"p256-private/0000000000000000000000000000000000000000000000000000000000000000",
            b"ed25519-private/zz00000000000000000000000000000000000000000000000000000000000000",
            b"\xff\xfe not utf-8",
            &[b'a'; 4096][..],
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.0.join(format!("bad{i}.key"));
            let mut file =
                OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
            file.write_all(content).unwrap();
            let err = RootKey::load(&path).err().unwrap();
            assert!(matches!(err, IdentityError::KeyFileFormat { .. }), "case {i}: {err}");
            assert!(!err.to_string().contains("aaaa"), "{err}");
        }
        let err = RootKey::load(&dir.0.join("missing.key")).err().unwrap();
        assert!(matches!(err, IdentityError::KeyFileRead { .. }), "{err}");
    }

    #[test]
    fn public_keys_round_trip_through_hex_and_refuse_garbage() {
        let key = RootKey::generate().public_key();
        let hex_key = key.to_hex();
        assert_eq!(hex_key.len(), 64);
        assert_eq!(PublicKey::from_hex(&hex_key).unwrap(), key);
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(66), &format!("{hex_key}\n")] {
            assert!(PublicKey::from_hex(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn two_generated_keys_differ() {
        assert_ne!(RootKey::generate().public_key(), RootKey::generate().public_key());
    }
}
