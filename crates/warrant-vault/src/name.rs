//! Credential names: parsed once, at the boundary.

use crate::VaultError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Longest credential name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// A credential's name: 1–64 ASCII letters, digits, `-`, `_` or `.`.
///
/// Names are not secret; they appear in logs, errors and findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CredentialName(String);

impl CredentialName {
    pub fn new(name: &str) -> Result<Self, VaultError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(VaultError::InvalidName { name: shorten(name) })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CredentialName {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An invalid name as it may appear in an error: at most 80 characters, so a
/// value pasted in by mistake is not echoed whole.
fn shorten(name: &str) -> String {
    const KEEP: usize = 80;
    if name.chars().count() <= KEEP {
        name.to_owned()
    } else {
        let mut short: String = name.chars().take(KEEP).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::CredentialName;

    #[test]
    fn accepts_letters_digits_dash_underscore_dot() {
        assert!(CredentialName::new("github-token_v2.prod").is_ok());
        assert!(CredentialName::new(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_odd_characters() {
        for bad in ["", "has space", "slash/name", "ünicode", "semi;colon"] {
            assert!(CredentialName::new(bad).is_err(), "{bad}");
        }
        assert!(CredentialName::new(&"a".repeat(65)).is_err());
    }
}
