//! The vault's one error type.
//!
//! No variant holds a secret: values, passphrases and keys never reach an
//! error. Names, paths and parameters do, since they are not secret.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("invalid credential name `{name}`: use 1-64 ASCII letters, digits, `-`, `_` or `.`")]
    InvalidName { name: String },

    #[error("invalid binding for credential `{name}`: {reason}")]
    InvalidBinding { name: String, reason: String },

    #[error(
        "Argon2id parameters m={memory_kib} KiB, t={iterations}, p={parallelism} are below the \
         minimum m={min_memory_kib} KiB, t={min_iterations}, p=1"
    )]
    KdfTooWeak {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        min_memory_kib: u32,
        min_iterations: u32,
    },

    #[error(
        "Argon2id parameters m={memory_kib} KiB, t={iterations}, p={parallelism} exceed the \
         maximum this vault accepts"
    )]
    KdfTooCostly { memory_kib: u32, iterations: u32, parallelism: u32 },

    #[error("the passphrase must not be empty")]
    EmptyPassphrase,

    #[error("wrong passphrase for the vault at `{path}`")]
    WrongPassphrase { path: PathBuf },

    #[error("a vault already exists at `{path}`")]
    AlreadyExists { path: PathBuf },

    #[error("no vault at `{path}`")]
    NotFound { path: PathBuf },

    #[error("the vault at `{path}` has format `{found}`, expected `{expected}`")]
    UnsupportedFormat { path: PathBuf, found: String, expected: &'static str },

    #[error("the vault at `{path}` is corrupt: {what}")]
    Corrupt { path: PathBuf, what: &'static str },

    #[error("credential `{name}` failed authentication: the vault was corrupted or tampered with")]
    CredentialTampered { name: String },

    #[error("credential `{name}` already exists")]
    CredentialExists { name: String },

    #[error("no credential named `{name}`")]
    NoSuchCredential { name: String },

    #[error("could not {operation} the vault at `{path}`")]
    Sqlite {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("could not create the vault file `{path}`")]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("the vault at `{path}` is in WAL-incompatible journal mode `{mode}`")]
    NotWal { path: PathBuf, mode: String },

    #[error("key derivation failed: {reason}")]
    Kdf { reason: String },

    #[error("could not {operation}: the operating system's random source failed")]
    Random { operation: &'static str },

    #[error("could not encrypt credential `{name}`")]
    Encrypt { name: String },

    #[error("could not build the leak scanner: {reason}")]
    ScannerBuild { reason: String },

    #[error("cannot make a placeholder for this secret: {reason}")]
    PlaceholderUnsupported { reason: &'static str },

    #[error(
        "secret too short to placeholder: its placeholder would carry {randomness_bits} bits of \
         randomness, at least {min_bits} are needed"
    )]
    PlaceholderTooWeak { randomness_bits: u32, min_bits: u32 },

    #[error("could not build the swapper: credential `{name}` {reason}")]
    SwapperBuild { name: String, reason: String },

    #[error("could not build rule `{id}`: {reason}")]
    RuleBuild { id: String, reason: String },

    #[error("the vault key cache: {reason}")]
    KeyCache { reason: String },
}
