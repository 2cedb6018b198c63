//! Finds known secrets in bytes about to leave: tool arguments, responses,
//! log lines.
//!
//! Each secret is expanded into the forms it commonly takes on the way out:
//! - raw;
//! - base64 (standard and URL-safe alphabets, padded and not) at each of the
//!   three byte alignments, so a secret embedded anywhere in a longer base64
//!   stream is still found;
//! - hex, in any mix of cases;
//! - URL-encoded: only the bytes outside RFC 3986's unreserved set, with
//!   upper- or lowercase hex digits; every byte, in either case; form-encoded
//!   (`application/x-www-form-urlencoded`, space as `+`, with the WHATWG or
//!   the RFC 3986 set of bytes left alone);
//! - JSON-escaped: as `serde_json` writes it, with `/` escaped (PHP), with
//!   `<`, `>` and `&` escaped (Go), and with every character as a `\u`
//!   escape, in either case;
//! - UTF-16, little- and big-endian (a byte-order mark before it or not);
//! - every byte as a C escape: `\xNN` (either case), `\NNN`, `\0NNN`, as
//!   `printf` and C read them (reported as [`Encoding::Normalized`]).
//!
//! Three Aho-Corasick automata match all forms of all secrets: one exactly,
//! one ignoring ASCII case (hex, and the raw form of a secret that is itself
//! hex), and one for the C escapes, kept apart so that the first keeps its
//! prefilter. These exact forms are what [`LeakScanner::scan_exact`] and the
//! streaming mask ([`StreamRedactor`]) look for.
//!
//! [`LeakScanner::scan`] (and so `scan_parts`, `redact` and `mask`) also
//! looks for secrets in disguise: the skeleton of each form (its letters and
//! digits, lowercased, after compatibility decomposition and HTML references;
//! see `crate::skeleton`) in the skeleton of the haystack, for secrets whose
//! skeleton has at least [`MIN_SKELETON_LEN`] characters. That finds
//! separators, whitespace or line breaks put between a secret's characters,
//! zero-width and other format characters, fullwidth and other compatibility
//! forms, HTML character references, a change of case, invisible tag
//! characters and variation selectors that spell the secret, and base64 or
//! hex wrapped over lines. Forms matched only in disguise are added
//! (`crate::recoded`): every shift of the letters (rot13 among them), rot5,
//! rot18, rot47, Atbash, the secret reversed, C escapes in mixed case, and
//! lists of its byte values in decimal, hex (`0x`), octal and binary,
//! whatever separates them (`90,120,…`, `chr(90)+…`, `01011010 01111000`).
//! Such a match is reported as [`Encoding::Normalized`] with the span it
//! covers in the haystack. [`LeakScanner::scan_parts`] also
//! finds a secret split across consecutive fields; [`LeakScanner::fragments`]
//! and [`crate::fragments::Exposure`] find pieces of one in any order, across
//! fields and across the messages of a session.
//!
//! Limits, deliberately:
//! - Secrets shorter than [`MIN_ENCODED_LEN`] bytes are matched raw only: their
//!   encoded forms are short enough to turn up in unrelated text. Secrets
//!   whose skeleton is shorter than [`MIN_SKELETON_LEN`] are not matched in
//!   disguise, for the same reason.
//! - Not found: a secret transformed otherwise (compressed, encrypted,
//!   XORed, base32, base85, EBCDIC, encoded twice, disguised and then
//!   encoded, spelled out in words or Morse, its bits written as two
//!   invisible characters); escaped only in part (some characters percent-,
//!   `\u`- or `\x`-escaped and others not, beyond what the encoders above
//!   write); a list of its byte values with other prefixes or widths than
//!   `crate::recoded` lists; rot47 of a secret too short to keep 16 letters
//!   and digits through it; with letters or digits put
//!   between its characters; with letters of other scripts that look like
//!   its own (confusables); split across fields, by [`LeakScanner::scan`],
//!   or across fields that are not consecutive or not in order, by
//!   [`LeakScanner::scan_parts`] (see [`LeakScanner::fragments`] for those).
//! - Matches do not overlap: where the forms of two secrets overlap, the
//!   leftmost, then longest, is reported.
//! - The automata's tables are built from the secrets and are not zeroized
//!   when the scanner is dropped.

use crate::disguise::DisguiseMatcher;
use crate::forms::{Form, leak_forms};
use crate::fragments::{FragmentIndex, Fragments};
use crate::recoded;
pub use crate::skeleton::MIN_SKELETON_LEN;
use crate::skeleton::skeleton;
use crate::{SecretValue, VaultError};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
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
    /// Hex with lowercase digits, or digits of both cases.
    HexLower,
    /// Hex with uppercase digits only.
    HexUpper,
    /// Percent-encoding of the bytes outside the unreserved set, or
    /// form-encoding (`application/x-www-form-urlencoded`, space as `+`).
    UrlEncoded,
    /// Percent-encoding of every byte.
    UrlEncodedAll,
    /// A JSON string's content: escaped as `serde_json`, PHP (`\/`) or Go
    /// (`\u003c`) write it, or with every character as a `\u` escape.
    JsonEscaped,
    /// UTF-16, little- or big-endian.
    Utf16,
    /// A form in disguise, found by its skeleton: separators, line breaks
    /// or format characters between its characters, compatibility forms,
    /// HTML references, another case, rotations, lists of byte values; or
    /// every byte as a C escape, found exactly.
    Normalized,
    /// Pieces of the secret, in any order, across fields or messages: only
    /// in a [`crate::fragments::FragmentLeak`]'s report, never in a
    /// [`Finding`].
    Fragments,
}

/// Where a secret was found. Holds the secret's name, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub name: String,
    pub encoding: Encoding,
    /// Byte offset of the match in the haystack (for
    /// [`LeakScanner::scan_parts`], in the parts' concatenation).
    pub offset: usize,
    /// Length of the match in bytes.
    pub len: usize,
}

/// A matcher over every form of a set of secrets. Its `Debug` shows names and
/// counts only.
pub struct LeakScanner {
    exact: Matcher,
    folded: Matcher,
    /// The exact forms of `crate::recoded` (rotations, C escapes), apart:
    /// in the automaton of `exact` they would spoil its prefilter (most
    /// begin with a backslash, or with letters the raw forms do not) and
    /// slow every scan by half.
    recoded: Matcher,
    disguised: DisguiseMatcher,
    fragments: FragmentIndex,
    names: Vec<String>,
}

/// The byte every match is overwritten with by [`LeakScanner::mask`] and
/// [`StreamRedactor`].
pub const MASK: u8 = b'*';

impl LeakScanner {
    /// Builds the scanner. Empty secrets are skipped; a secret given twice is
    /// reported under its first name.
    pub fn new(secrets: &[(&str, &SecretValue)]) -> Result<Self, VaultError> {
        let mut exact = Vec::new();
        let mut folded = Vec::new();
        let mut recoded = Vec::new();
        let mut disguised = Vec::new();
        let mut names = Vec::with_capacity(secrets.len());
        for (index, (name, secret)) in secrets.iter().enumerate() {
            names.push((*name).to_owned());
            let value = secret.expose_secret();
            let (e, f) = leak_forms(value, MIN_ENCODED_LEN);
            let r = if value.len() >= MIN_ENCODED_LEN {
                recoded::exact_forms(value)
            } else {
                Vec::new()
            };
            if skeleton(value).len() >= MIN_SKELETON_LEN {
                let forms = disguise_forms(value, [&e, &f, &r]);
                disguised.extend(forms.into_iter().map(|s| (index, s)));
            }
            recoded.extend(r.into_iter().map(|form| (index, form)));
            exact.extend(e.into_iter().map(|form| (index, form)));
            folded.extend(f.into_iter().map(|form| (index, form)));
        }
        let fragments = FragmentIndex::build(
            secrets.iter().enumerate().map(|(i, (name, s))| (i, *name, s.expose_secret())),
        )?;
        Ok(Self {
            exact: Matcher::build(exact, false)?,
            folded: Matcher::build(folded, true)?,
            recoded: Matcher::build(recoded, false)?,
            disguised: DisguiseMatcher::build(disguised)?,
            fragments,
            names,
        })
    }

    /// Every place a secret occurs in `haystack`, in order: in any of its
    /// exact forms, or in disguise (see the module doc).
    pub fn scan(&self, haystack: &[u8]) -> Vec<Finding> {
        let mut found = self.scan_exact(haystack);
        let exact = found.len();
        self.disguised.find(haystack, &self.names, &mut found);
        if found.len() > exact {
            keep_leftmost_longest(&mut found, |f| (f.offset, f.len));
        }
        found
    }

    /// Every place a secret occurs in `haystack` in one of its exact forms,
    /// in order: no match is longer than [`LeakScanner::longest_form`].
    pub fn scan_exact(&self, haystack: &[u8]) -> Vec<Finding> {
        let mut found = Vec::new();
        // Each matcher's findings are in order; only a second matcher that
        // finds something can break it.
        let mut matchers_found = 0;
        for matcher in [&self.exact, &self.folded, &self.recoded] {
            let before = found.len();
            matcher.find(haystack, &self.names, &mut found);
            matchers_found += usize::from(found.len() > before);
        }
        if matchers_found > 1 {
            keep_leftmost_longest(&mut found, |f| (f.offset, f.len));
        }
        found
    }

    /// The pieces of secrets in `parts` (the fields of one message, in any
    /// order), in any disguise the skeleton undoes: which characters of which
    /// secret they cover. Hand them to an [`crate::fragments::Exposure`] to
    /// decide whether too much of a secret has gone out.
    pub fn fragments(&self, parts: &[&[u8]]) -> Fragments {
        self.fragments.find(parts)
    }

    pub(crate) fn fragment_index(&self) -> &FragmentIndex {
        &self.fragments
    }

    pub(crate) fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }

    /// Every place a secret occurs in the concatenation of `parts` (fields of
    /// one request or message, in order), so a secret split across
    /// consecutive parts is found too. Offsets are into the concatenation.
    /// Only in-order adjacency is caught: a secret split across parts that are
    /// not consecutive, or given in another order, is not.
    pub fn scan_parts(&self, parts: &[&[u8]]) -> Vec<Finding> {
        if let [only] = parts {
            return self.scan(only);
        }
        let total = parts.iter().map(|p| p.len()).sum();
        // The parts may hold the very secrets this looks for.
        let mut joined = Zeroizing::new(Vec::with_capacity(total));
        for part in parts {
            joined.extend_from_slice(part);
        }
        self.scan(&joined)
    }

    /// `text` with every match replaced by `[REDACTED:name]`. A match that cuts
    /// through a multi-byte character (possible only for a secret that is not
    /// UTF-8) leaves U+FFFD in place of the cut bytes.
    pub fn redact(&self, text: &str) -> String {
        let findings = self.scan(text.as_bytes());
        replace_spans(text, findings.iter().map(|f| (f.offset, f.len, f.name.as_str())))
    }

    /// Overwrites every match in `bytes` with [`MASK`], keeping its length,
    /// and returns the findings. For bytes whose framing or offsets must not
    /// move (an HTTP header value, a body already announced by its length).
    pub fn mask(&self, bytes: &mut [u8]) -> Vec<Finding> {
        let found = self.scan(bytes);
        for finding in &found {
            let end = finding.offset.saturating_add(finding.len);
            if let Some(span) = bytes.get_mut(finding.offset..end) {
                span.fill(MASK);
            }
        }
        found
    }

    /// The length in bytes of the longest form matched: how much of a
    /// stream [`StreamRedactor`] holds back.
    pub fn longest_form(&self) -> usize {
        self.exact.longest.max(self.folded.longest).max(self.recoded.longest)
    }

    /// How many secrets the scanner was built over.
    pub fn secret_count(&self) -> usize {
        self.names.len()
    }

    /// How many distinct patterns it matches.
    pub fn pattern_count(&self) -> usize {
        self.exact.patterns.len()
            + self.folded.patterns.len()
            + self.recoded.patterns.len()
            + self.disguised.pattern_count()
    }
}

impl fmt::Debug for LeakScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakScanner")
            .field("secrets", &self.names)
            .field("patterns", &self.pattern_count())
            .finish_non_exhaustive()
    }
}

/// Cuts vault secrets out of a byte stream that arrives in chunks (a
/// response body on its way to an agent), keeping its length: each match is
/// overwritten with [`MASK`], so the stream's framing (`Content-Length`) and
/// every offset in it stay valid. It looks for the exact forms only
/// ([`LeakScanner::scan_exact`]): a disguise has no bound on its length, so
/// no held-back tail would be enough.
///
/// It holds back the last [`LeakScanner::longest_form`]` - 1` bytes of what
/// it was given, since a match may begin there and end in the next chunk;
/// [`StreamRedactor::finish`] releases them. A match that begins before that
/// held-back tail lies wholly in what it has, so it is found exactly as a
/// scan of the whole stream would find it. The held bytes are zeroized.
#[derive(Default)]
pub struct StreamRedactor {
    held: Zeroizing<Vec<u8>>,
    /// Offset in the stream of `held`'s first byte.
    offset: usize,
    found: Vec<Finding>,
}

impl StreamRedactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next `chunk` and appends to `out` the bytes that can go on
    /// now, secrets masked. `scanner` must be the same for the whole stream.
    pub fn push(&mut self, scanner: &LeakScanner, chunk: &[u8], out: &mut Vec<u8>) {
        self.held.extend_from_slice(chunk);
        let tail = scanner.longest_form().saturating_sub(1);
        let ready = self.held.len().saturating_sub(tail);
        self.release(scanner, ready, out);
    }

    /// The end of the stream: appends to `out` everything still held back.
    pub fn finish(&mut self, scanner: &LeakScanner, out: &mut Vec<u8>) {
        let all = self.held.len();
        self.release(scanner, all, out);
    }

    /// What was masked so far, with offsets into the whole stream.
    pub fn found(&self) -> &[Finding] {
        &self.found
    }

    /// Masks every match that begins before `ready` and releases the bytes
    /// up to `ready`, or to the end of the last such match if it is later.
    fn release(&mut self, scanner: &LeakScanner, ready: usize, out: &mut Vec<u8>) {
        if ready == 0 {
            return;
        }
        let mut cut = ready;
        for finding in scanner.scan_exact(&self.held) {
            if finding.offset >= ready {
                break;
            }
            let end = finding.offset.saturating_add(finding.len);
            if let Some(span) = self.held.get_mut(finding.offset..end) {
                span.fill(MASK);
            }
            cut = cut.max(end);
            self.found
                .push(Finding { offset: self.offset.saturating_add(finding.offset), ..finding });
        }
        let cut = cut.min(self.held.len());
        out.extend_from_slice(self.held.get(..cut).unwrap_or_default());
        self.held.drain(..cut);
        self.offset = self.offset.saturating_add(cut);
    }
}

impl fmt::Debug for StreamRedactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRedactor")
            .field("held", &self.held.len())
            .field("offset", &self.offset)
            .field("found", &self.found)
            .finish()
    }
}

/// The skeletons the disguise pass looks for: of every exact form (UTF-16
/// reads as the raw form), of the raw form without its first character
/// when that is a letter a backslash before it would turn into an escape,
/// and of the forms only matched in disguise (`crate::recoded`).
fn disguise_forms(secret: &[u8], exact: [&[Form]; 3]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut forms: Vec<Zeroizing<Vec<u8>>> = exact
        .into_iter()
        .flatten()
        .filter(|(_, encoding)| *encoding != Encoding::Utf16)
        .map(|(form, _)| skeleton(form))
        .collect();
    if secret.first().is_some_and(|b| b"nrtbfv0".contains(b)) {
        forms.push(skeleton(secret.get(1..).unwrap_or_default()));
    }
    forms.extend(recoded::skeleton_forms(secret));
    forms
}

/// One automaton and, for each of its pattern ids, the secret's index and
/// the form.
struct Matcher {
    automaton: Option<AhoCorasick>,
    patterns: Vec<(usize, Encoding)>,
    fold_case: bool,
    /// The longest pattern's length in bytes.
    longest: usize,
}

impl Matcher {
    fn build(forms: Vec<(usize, Form)>, fold_case: bool) -> Result<Self, VaultError> {
        // Forms already added, by digest (a `Zeroizing` buffer is not `Hash`).
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut kept: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut patterns = Vec::new();
        for (index, (form, encoding)) in forms {
            let key = if fold_case { Zeroizing::new(form.to_ascii_lowercase()) } else { form };
            if key.is_empty() || !seen.insert(Sha256::digest(key.as_slice()).into()) {
                continue;
            }
            kept.push(key);
            patterns.push((index, encoding));
        }
        let automaton = if kept.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(fold_case)
                .build(kept.iter().map(|f| f.as_slice()))
                .map_err(|e| VaultError::ScannerBuild { reason: e.to_string() })?;
            Some(built)
        };
        let longest = kept.iter().map(|form| form.len()).max().unwrap_or(0);
        Ok(Self { automaton, patterns, fold_case, longest })
    }

    fn find(&self, haystack: &[u8], names: &[String], out: &mut Vec<Finding>) {
        let Some(automaton) = &self.automaton else { return };
        out.extend(automaton.find_iter(haystack).filter_map(|m| {
            let (index, mut encoding) = *self.patterns.get(m.pattern().as_usize())?;
            if self.fold_case && encoding == Encoding::HexLower {
                encoding = hex_case(haystack.get(m.range()).unwrap_or_default());
            }
            Some(Finding {
                name: names.get(index)?.clone(),
                encoding,
                offset: m.start(),
                len: m.len(),
            })
        }));
    }
}

/// Which case a run of hex digits is in (mixed counts as lower).
fn hex_case(digits: &[u8]) -> Encoding {
    let lower = digits.iter().any(u8::is_ascii_lowercase);
    let upper = digits.iter().any(u8::is_ascii_uppercase);
    if upper && !lower { Encoding::HexUpper } else { Encoding::HexLower }
}

/// Sorts spans by start, then longest first, and drops every span that
/// overlaps one kept before it (a stable sort: on a tie the earlier wins).
pub(crate) fn keep_leftmost_longest<T>(items: &mut Vec<T>, span: impl Fn(&T) -> (usize, usize)) {
    items.sort_by_key(|item| {
        let (offset, len) = span(item);
        (offset, Reverse(len))
    });
    let mut end = 0;
    items.retain(|item| {
        let (offset, len) = span(item);
        if offset < end {
            return false;
        }
        end = offset.saturating_add(len);
        true
    });
}

/// `text` with each `(offset, len, label)` span, in order and not
/// overlapping, replaced by `[REDACTED:label]`.
pub(crate) fn replace_spans<'a>(
    text: &str,
    spans: impl IntoIterator<Item = (usize, usize, &'a str)>,
) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut last = 0;
    let mut replaced = false;
    for (offset, len, label) in spans {
        replaced = true;
        out.extend_from_slice(bytes.get(last..offset).unwrap_or_default());
        out.extend_from_slice(format!("[REDACTED:{label}]").as_bytes());
        last = offset.saturating_add(len);
    }
    if !replaced {
        return text.to_owned();
    }
    out.extend_from_slice(bytes.get(last..).unwrap_or_default());
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
