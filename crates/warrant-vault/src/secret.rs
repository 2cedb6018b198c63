//! The secret value type.
//!
//! A [`SecretValue`] can only be read through [`SecretValue::expose_secret`]
//! (or [`SecretValue::expose_str`]), so every read is grep-able. It has no
//! `Debug`, `Display`, `Clone` or `Serialize`, so it cannot reach a log line,
//! an error message or a JSON response by accident:
//!
//! ```compile_fail
//! let secret = warrant_vault::SecretValue::new(b"hunter2".to_vec());
//! println!("{:?}", secret);
//! ```
//!
//! ```compile_fail
//! let secret = warrant_vault::SecretValue::new(b"hunter2".to_vec());
//! let copy = secret.clone();
//! ```
//!
//! ```compile_fail
//! let secret = warrant_vault::SecretValue::new(b"hunter2".to_vec());
//! println!("{}", secret);
//! ```

use zeroize::Zeroizing;

/// A secret byte string, zeroized when dropped.
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Takes ownership of `bytes` without copying them. Copies the caller made
    /// earlier (for instance while growing the vector) are out of reach.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Takes ownership of a UTF-8 secret without copying it.
    pub fn from_string(text: String) -> Self {
        Self::new(text.into_bytes())
    }

    /// The secret's bytes. Every use is a place where the secret leaves the
    /// type's protection; keep the borrow short.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, or `None` when it is not UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Its length in bytes (not secret: ciphertexts reveal it too).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::SecretValue;

    #[test]
    fn exposes_the_bytes_it_was_given() {
        let secret = SecretValue::from_string("s3cret-value".to_owned());
        assert_eq!(secret.expose_secret(), b"s3cret-value");
        assert_eq!(secret.expose_str(), Some("s3cret-value"));
        assert_eq!(secret.len(), 12);
    }

    #[test]
    fn non_utf8_secret_has_no_str_view() {
        let secret = SecretValue::new(vec![0xff, 0xfe]);
        assert_eq!(secret.expose_str(), None);
    }
}
