//! Finds known secrets in bytes about to leave: tool arguments, responses,
//! log lines.
//!
//! Each secret is expanded into the forms it commonly takes on the way out:
//! raw; base64 (standard and URL-safe alphabets, padded and not) at each of the
//! three byte alignments, so a secret embedded anywhere in a longer base64
//! stream is still found; lowercase and uppercase hex; URL-encoded (only the
//! bytes outside RFC 3986's unreserved set, or every byte; upper- or lowercase
//! hex digits); and JSON-escaped. One Aho-Corasick automaton matches all forms
//! of all secrets in a single pass.
//!
//! Limits, deliberately:
//! - Secrets shorter than [`MIN_ENCODED_LEN`] bytes are matched raw only: their
//!   encoded forms are short enough to turn up in unrelated text.
//! - A secret split across two fields, transformed otherwise (compressed,
//!   encrypted, reversed, base32, `+` for space in forms, `\u` escapes of
//!   ASCII in JSON, mixed-case hex), or encoded twice, is not found.
//! - Matches do not overlap: where the forms of two secrets overlap, the
//!   leftmost, then longest, is reported.
//! - The automaton's tables are built from the secrets and are not zeroized
//!   when the scanner is dropped.

use crate::{SecretValue, VaultError};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use zeroize::Zeroizing;

/// Secrets shorter than this many bytes are matched raw only.
pub const MIN_ENCODED_LEN: usize = 8;

/// The form in which a secret was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Raw,
    Base64,
    Base64Url,
    HexLower,
    HexUpper,
    /// Percent-encoding of the bytes outside the unreserved set.
    UrlEncoded,
    /// Percent-encoding of every byte.
    UrlEncodedAll,
    JsonEscaped,
}

/// Where a secret was found. Holds the secret's name, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub name: String,
    pub encoding: Encoding,
    /// Byte offset of the match in the haystack.
    pub offset: usize,
    /// Length of the match in bytes.
    pub len: usize,
}

/// A matcher over every form of a set of secrets. Its `Debug` shows names and
/// counts only.
pub struct LeakScanner {
    automaton: Option<AhoCorasick>,
    /// For each pattern id: the secret's index in `names` and the form.
    patterns: Vec<(usize, Encoding)>,
    names: Vec<String>,
}

impl LeakScanner {
    /// Builds the scanner. Empty secrets are skipped; a secret given twice is
    /// reported under its first name.
    pub fn new(secrets: &[(&str, &SecretValue)]) -> Result<Self, VaultError> {
        // Forms already added, by digest (a `Zeroizing` buffer is not `Hash`).
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut forms: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut patterns = Vec::new();
        let mut names = Vec::with_capacity(secrets.len());
        for (index, (name, secret)) in secrets.iter().enumerate() {
            names.push((*name).to_owned());
            for (form, encoding) in expand(secret.expose_secret()) {
                if form.is_empty() || !seen.insert(Sha256::digest(form.as_slice()).into()) {
                    continue;
                }
                forms.push(form);
                patterns.push((index, encoding));
            }
        }
        let automaton = if forms.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(forms.iter().map(|f| f.as_slice()))
                .map_err(|e| VaultError::ScannerBuild { reason: e.to_string() })?;
            Some(built)
        };
        Ok(Self { automaton, patterns, names })
    }

    /// Every place a secret occurs in `haystack`, in order.
    pub fn scan(&self, haystack: &[u8]) -> Vec<Finding> {
        let Some(automaton) = &self.automaton else { return Vec::new() };
        automaton
            .find_iter(haystack)
            .filter_map(|m| {
                let (index, encoding) = *self.patterns.get(m.pattern().as_usize())?;
                Some(Finding {
                    name: self.names.get(index)?.clone(),
                    encoding,
                    offset: m.start(),
                    len: m.len(),
                })
            })
            .collect()
    }

    /// `text` with every match replaced by `[REDACTED:name]`. A match that cuts
    /// through a multi-byte character (possible only for a secret that is not
    /// UTF-8) leaves U+FFFD in place of the cut bytes.
    pub fn redact(&self, text: &str) -> String {
        let findings = self.scan(text.as_bytes());
        if findings.is_empty() {
            return text.to_owned();
        }
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut last = 0;
        for finding in findings {
            out.extend_from_slice(bytes.get(last..finding.offset).unwrap_or_default());
            out.extend_from_slice(format!("[REDACTED:{}]", finding.name).as_bytes());
            last = finding.offset.saturating_add(finding.len);
        }
        out.extend_from_slice(bytes.get(last..).unwrap_or_default());
        match String::from_utf8(out) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// How many secrets the scanner was built over.
    pub fn secret_count(&self) -> usize {
        self.names.len()
    }

    /// How many distinct patterns it matches.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
}

impl fmt::Debug for LeakScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakScanner")
            .field("secrets", &self.names)
            .field("patterns", &self.patterns.len())
            .finish_non_exhaustive()
    }
}

/// Every form of `secret` to look for.
fn expand(secret: &[u8]) -> Vec<(Zeroizing<Vec<u8>>, Encoding)> {
    let mut forms = vec![(Zeroizing::new(secret.to_vec()), Encoding::Raw)];
    if secret.len() < MIN_ENCODED_LEN {
        return forms;
    }
    let text = |s: String| Zeroizing::new(s.into_bytes());
    for (padded, unpadded, encoding) in [
        (STANDARD, STANDARD_NO_PAD, Encoding::Base64),
        (URL_SAFE, URL_SAFE_NO_PAD, Encoding::Base64Url),
    ] {
        // The whole encoding, for a secret at the end of a stream.
        forms.push((text(padded.encode(secret)), encoding));
        forms.push((text(unpadded.encode(secret)), encoding));
        for filler in 0..3 {
            forms.push((base64_middle(&unpadded, secret, filler), encoding));
        }
    }
    forms.push((text(hex::encode(secret)), Encoding::HexLower));
    forms.push((text(hex::encode_upper(secret)), Encoding::HexUpper));
    for upper in [true, false] {
        forms.push((percent_encode(secret, false, upper), Encoding::UrlEncoded));
        forms.push((percent_encode(secret, true, upper), Encoding::UrlEncodedAll));
    }
    if let Ok(s) = std::str::from_utf8(secret) {
        // Serializing a string cannot fail.
        if let Ok(json) = serde_json::to_string(s).map(Zeroizing::new) {
            let inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default();
            forms.push((Zeroizing::new(inner.as_bytes().to_vec()), Encoding::JsonEscaped));
        }
    }
    forms
}

/// The base64 characters that depend only on `secret` when it starts
/// `filler` bytes (0, 1 or 2) past a 3-byte boundary of a longer stream:
/// characters that also cover a neighbouring byte are dropped at both ends.
fn base64_middle(
    engine: &base64::engine::GeneralPurpose,
    secret: &[u8],
    filler: usize,
) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(vec![0u8; filler]);
    input.extend_from_slice(secret);
    let encoded = Zeroizing::new(engine.encode(input.as_slice()));
    let start = (8 * filler).div_ceil(6);
    let end = 8 * (filler + secret.len()) / 6;
    Zeroizing::new(encoded.as_bytes().get(start..end).unwrap_or_default().to_vec())
}

fn percent_encode(secret: &[u8], every_byte: bool, upper: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secret.len() * 3));
    for &b in secret {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved && !every_byte {
            out.push(b);
        } else {
            let escaped = if upper { format!("%{b:02X}") } else { format!("%{b:02x}") };
            out.extend_from_slice(escaped.as_bytes());
        }
    }
    out
}
