//! Placeholders: stand-ins for secrets that an agent may hold.
//!
//! An agent running in a sandbox gets a placeholder in its environment where
//! it would get a token; the egress proxy swaps it for the secret only in
//! requests to the credential's bound hosts ([`crate::swap`]). Client
//! libraries check token formats, so a placeholder is shaped like its secret:
//! - the same length, and the same bytes wherever the secret has something
//!   other than an ASCII letter or digit (`-`, `_`, `.`, `/`, `+`, `=`, space);
//! - the same well-known prefix (`ghp_`, `github_pat_`, `sk-ant-api03-`,
//!   `AKIA`, …: [`KNOWN_PREFIXES`]), or else a leading run of short lowercase
//!   segments each ended by `_` or `-` (`dop_v1_`, `lin_api_`), at most
//!   [`MAX_PREFIX_LEN`] bytes, kept only when the rest of the secret mixes
//!   character classes, as tokens do and passphrases mostly do not;
//! - every other letter or digit replaced by a random one of the same class
//!   (lowercase, uppercase, digit), or by a random hex digit of the same case
//!   when the rest of the secret is hex.
//!
//! What the placeholder gives away, deliberately: the secret's length, the
//! positions of its punctuation, the class of each character, and the prefix
//! it keeps. For a token that is its format; for a password that happens to
//! start with a short lowercase word followed by `-` or `_`, that word. The
//! replaced characters carry at least [`MIN_PLACEHOLDER_BITS`] bits of
//! randomness, or no placeholder is made.
//!
//! A placeholder is not secret and compares in variable time. Make a fresh one
//! per run.

use crate::{SecretValue, VaultError};
use std::fmt;

/// The fewest bits of randomness a placeholder carries.
pub const MIN_PLACEHOLDER_BITS: u32 = 64;

/// The longest prefix the general rule keeps, in bytes.
pub const MAX_PREFIX_LEN: usize = 16;

/// Prefixes kept as they are, each with what it identifies. The longest that
/// the secret starts with wins.
pub const KNOWN_PREFIXES: &[(&str, &str)] = &[
    ("sk-ant-api03-", "Anthropic API key"),
    ("sk-ant-admin01-", "Anthropic admin key"),
    ("sk-ant-oat01-", "Anthropic OAuth token"),
    ("sk-proj-", "OpenAI project key"),
    ("sk-svcacct-", "OpenAI service-account key"),
    ("sk-admin-", "OpenAI admin key"),
    ("sk-", "OpenAI legacy key"),
    ("github_pat_", "GitHub fine-grained personal access token"),
    ("ghp_", "GitHub personal access token"),
    ("gho_", "GitHub OAuth token"),
    ("ghu_", "GitHub user-to-server token"),
    ("ghs_", "GitHub server-to-server token"),
    ("ghr_", "GitHub refresh token"),
    ("glpat-", "GitLab personal access token"),
    ("gldt-", "GitLab deploy token"),
    ("glrt-", "GitLab runner token"),
    ("xoxb-", "Slack bot token"),
    ("xoxp-", "Slack user token"),
    ("xoxa-", "Slack app token (legacy)"),
    ("xoxr-", "Slack refresh token"),
    ("xoxs-", "Slack session token"),
    ("xapp-", "Slack app-level token"),
    ("sk_live_", "Stripe secret key"),
    ("sk_test_", "Stripe test secret key"),
    ("rk_live_", "Stripe restricted key"),
    ("rk_test_", "Stripe test restricted key"),
    ("npm_", "npm access token"),
    ("hf_", "Hugging Face token"),
    ("pypi-AgEIcHlwaS5vcmc", "PyPI API token (its macaroon header names pypi.org)"),
    ("dop_v1_", "DigitalOcean personal access token"),
    ("shpat_", "Shopify access token"),
    ("AKIA", "AWS long-term access key id"),
    ("ASIA", "AWS temporary access key id"),
    ("AIza", "Google API key"),
    ("ya29.", "Google OAuth access token"),
    ("SG.", "SendGrid API key"),
];

/// A stand-in for a secret. Not secret: it is handed to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placeholder {
    value: String,
    prefix_len: usize,
    bits: u32,
}

impl Placeholder {
    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.value.as_bytes()
    }

    /// Its length in bytes: the secret's length.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The prefix it shares with the secret (empty when none was kept).
    pub fn kept_prefix(&self) -> &str {
        self.value.get(..self.prefix_len).unwrap_or_default()
    }

    /// How many bits of randomness its replaced characters carry (rounded
    /// down).
    pub fn randomness_bits(&self) -> u32 {
        self.bits
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// A fresh placeholder for `secret`, shaped like it (see the module doc).
///
/// Refuses a secret with a byte outside printable ASCII or with a leading or
/// trailing space (its placeholder would not be a valid header value), and a
/// secret whose placeholder would carry fewer than [`MIN_PLACEHOLDER_BITS`]
/// bits of randomness.
pub fn placeholder_for(secret: &SecretValue) -> Result<Placeholder, VaultError> {
    let bytes = secret.expose_secret();
    let printable = bytes.iter().all(|b| (b' '..=b'~').contains(b));
    if !printable || bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return Err(VaultError::PlaceholderUnsupported {
            reason: "it has a byte outside printable ASCII, or a leading or trailing space",
        });
    }
    let prefix_len = kept_prefix_len(bytes);
    let body = bytes.get(prefix_len..).unwrap_or_default();
    let hex = hex_alphabet(body);
    let alphabets: Vec<Option<&'static [u8]>> = body.iter().map(|&b| alphabet(b, hex)).collect();
    let bits = alphabets.iter().flatten().map(|a| (a.len() as f64).log2()).sum::<f64>().floor();
    // At most 6 bits a byte, so the sum fits a u32 for any secret that fits
    // in memory; saturate rather than wrap all the same.
    let bits = if bits >= f64::from(u32::MAX) { u32::MAX } else { bits as u32 };
    if bits < MIN_PLACEHOLDER_BITS {
        return Err(VaultError::PlaceholderTooWeak {
            randomness_bits: bits,
            min_bits: MIN_PLACEHOLDER_BITS,
        });
    }
    let prefix = bytes.get(..prefix_len).unwrap_or_default();
    let mut random = RandomBytes::new();
    // With 64 bits or more, a draw equal to the secret is next to impossible;
    // a few tries keep that from ever being an error in practice.
    for _ in 0..4 {
        let mut value = prefix.to_vec();
        for (&b, alphabet) in body.iter().zip(&alphabets) {
            value.push(match alphabet {
                Some(alphabet) => random.pick(alphabet)?,
                None => b,
            });
        }
        if value != bytes {
            // Printable ASCII in, printable ASCII out.
            let value = String::from_utf8(value).map_err(|_| {
                VaultError::PlaceholderUnsupported { reason: "it is not printable ASCII" }
            })?;
            return Ok(Placeholder { value, prefix_len, bits });
        }
    }
    Err(VaultError::Random { operation: "generate a placeholder that differs from its secret" })
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const HEX_LOWER: &[u8] = b"0123456789abcdef";
const HEX_UPPER: &[u8] = b"0123456789ABCDEF";

/// How many leading bytes of `secret` the placeholder keeps.
pub(crate) fn kept_prefix_len(secret: &[u8]) -> usize {
    let known = KNOWN_PREFIXES
        .iter()
        .filter(|(prefix, _)| secret.starts_with(prefix.as_bytes()))
        .map(|(prefix, _)| prefix.len())
        .max();
    if let Some(len) = known {
        return len;
    }
    // Segments of 1-6 lowercase letters and digits, starting with a letter,
    // each ended by `_` or `-`.
    let mut end = 0;
    loop {
        let rest = secret.get(end..).unwrap_or_default();
        let segment =
            rest.iter().take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit()).count();
        let starts_with_letter = rest.first().is_some_and(u8::is_ascii_lowercase);
        let delimited = matches!(rest.get(segment), Some(b'_' | b'-'));
        let next = end + segment + 1;
        if !starts_with_letter || segment > 6 || !delimited || next > MAX_PREFIX_LEN {
            break;
        }
        end = next;
    }
    let body = secret.get(end..).unwrap_or_default();
    let classes = [u8::is_ascii_lowercase, u8::is_ascii_uppercase, u8::is_ascii_digit]
        .iter()
        .filter(|class| body.iter().any(*class))
        .count();
    if classes >= 2 { end } else { 0 }
}

/// The hex digits of one case when every letter or digit of `body` is a hex
/// digit of that case (and there is at least one letter).
fn hex_alphabet(body: &[u8]) -> Option<&'static [u8]> {
    let alnum = || body.iter().filter(|b| b.is_ascii_alphanumeric());
    if !alnum().any(u8::is_ascii_alphabetic) {
        return None;
    }
    if alnum().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        Some(HEX_LOWER)
    } else if alnum().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)) {
        Some(HEX_UPPER)
    } else {
        None
    }
}

/// What a byte of the secret is replaced from; `None` keeps it.
fn alphabet(b: u8, hex: Option<&'static [u8]>) -> Option<&'static [u8]> {
    match (hex, b) {
        (Some(hex), _) if b.is_ascii_alphanumeric() => Some(hex),
        (_, b'a'..=b'z') => Some(LOWER),
        (_, b'A'..=b'Z') => Some(UPPER),
        (_, b'0'..=b'9') => Some(DIGITS),
        _ => None,
    }
}

/// Bytes from the operating system, drawn a block at a time.
struct RandomBytes {
    block: [u8; 64],
    used: usize,
}

impl RandomBytes {
    fn new() -> Self {
        Self { block: [0; 64], used: 64 }
    }

    fn next(&mut self) -> Result<u8, VaultError> {
        if self.used >= self.block.len() {
            getrandom::fill(&mut self.block)
                .map_err(|_| VaultError::Random { operation: "generate a placeholder" })?;
            self.used = 0;
        }
        let b = self.block.get(self.used).copied().unwrap_or_default();
        self.used += 1;
        Ok(b)
    }

    /// A uniformly random member of `alphabet` (1 to 256 members), by
    /// rejection so that no member is likelier than another.
    fn pick(&mut self, alphabet: &[u8]) -> Result<u8, VaultError> {
        let n = alphabet.len().clamp(1, 256);
        let limit = 256 - 256 % n;
        loop {
            let b = usize::from(self.next()?);
            if b < limit {
                return alphabet
                    .get(b % n)
                    .copied()
                    .ok_or(VaultError::Random { operation: "generate a placeholder" });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::{RandomBytes, kept_prefix_len};

    #[test]
    fn general_rule_keeps_short_lowercase_segments_before_a_mixed_body() {
        assert_eq!(kept_prefix_len(b"abc_v1_0a1b2c3d4e5f"), 7);
        assert_eq!(kept_prefix_len(b"lin_api_AbC123xyz"), 8);
        assert_eq!(kept_prefix_len(b"abc-Xy7Qp9Lm2Zk4"), 4);
    }

    #[test]
    fn general_rule_keeps_nothing_of_a_passphrase_or_a_long_word() {
        assert_eq!(kept_prefix_len(b"correct-horse-battery-staple"), 0);
        assert_eq!(kept_prefix_len(b"password_Abc123456789"), 0);
        assert_eq!(kept_prefix_len(b"Ab3_xyz123ABC"), 0);
        assert_eq!(kept_prefix_len(b"a-b-c-d-e-f-g-h-i-Xy7Q9"), 16);
    }

    #[test]
    fn picks_are_spread_over_the_whole_alphabet() {
        let mut random = RandomBytes::new();
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let d = random.pick(b"0123456789").unwrap();
            seen[usize::from(d - b'0')] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
