//! The leak scanner's second pass: secrets in disguise.
//!
//! A secret whose skeleton ([`crate::skeleton`]) has at least
//! [`MIN_SKELETON_LEN`] characters is also looked for by the skeleton of
//! each of its forms (raw, base64, hex, URL-, JSON- and C-escaped, and
//! those of `crate::recoded`: rotations, lists of byte values) in the
//! skeleton of the haystack. So a secret is found with separators or
//! whitespace put between its characters, a line break in it, zero-width
//! and other format characters, fullwidth or other compatibility forms, HTML
//! character references, invisible tag characters or variation selectors,
//! its case changed, as UTF-16 text, as base64 or hex wrapped over lines
//! (76-column MIME, 64-column PEM) or grouped, rotated, and as a list of
//! numbers whatever separates them.
//!
//! Cost: the haystack's skeleton is built in one pass (a table lookup per
//! ASCII byte). The automaton then runs only near a place where the
//! skeleton's 8-byte block at an offset divisible by 8 is an 8-gram of some
//! pattern: every pattern is at least 16 bytes, so any occurrence contains
//! such a block, and ordinary text holds none. The spans in the haystack are
//! worked out only for what matched.
//!
//! Deliberately not: the 8-grams kept for that check are pieces of the
//! secrets and, like the automata, are not zeroized when the matcher is
//! dropped.

use crate::VaultError;
use crate::scan::{Encoding, Finding};
use crate::skeleton::{MIN_SKELETON_LEN, skeleton, spans};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use zeroize::Zeroizing;

/// The length of the blocks checked before the automaton runs.
const GRAM: usize = 8;

// The check finds every occurrence only if every pattern holds a whole
// aligned block.
const _: () = assert!(MIN_SKELETON_LEN >= 2 * GRAM);

/// Matches the skeletons of secrets' forms in the skeleton of a haystack.
pub(crate) struct DisguiseMatcher {
    automaton: Option<AhoCorasick>,
    /// For each pattern, the secret's index.
    patterns: Vec<usize>,
    /// Every 8-gram of every pattern, as a little-endian integer.
    grams: HashSet<u64, BuildHasherDefault<GramHasher>>,
    longest: usize,
}

impl DisguiseMatcher {
    /// Builds the matcher over `(secret index, form)`: each form's skeleton
    /// is a pattern when it has at least [`MIN_SKELETON_LEN`] characters.
    pub(crate) fn build(
        forms: impl IntoIterator<Item = (usize, Zeroizing<Vec<u8>>)>,
    ) -> Result<Self, VaultError> {
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut kept: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut patterns = Vec::new();
        let mut grams = HashSet::default();
        for (index, form) in forms {
            if form.len() < MIN_SKELETON_LEN || !seen.insert(Sha256::digest(form.as_slice()).into())
            {
                continue;
            }
            grams.extend(form.windows(GRAM).filter_map(gram));
            kept.push(form);
            patterns.push(index);
        }
        let automaton = if kept.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(kept.iter().map(|f| f.as_slice()))
                .map_err(|e| VaultError::ScannerBuild { reason: e.to_string() })?;
            Some(built)
        };
        let longest = kept.iter().map(|f| f.len()).max().unwrap_or(0);
        Ok(Self { automaton, patterns, grams, longest })
    }

    /// How many patterns it matches.
    pub(crate) fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Appends every disguised secret in `haystack` to `out`, as
    /// [`Encoding::Normalized`] with its span in `haystack`.
    pub(crate) fn find(&self, haystack: &[u8], names: &[String], out: &mut Vec<Finding>) {
        let Some(automaton) = &self.automaton else { return };
        let skel = skeleton(haystack);
        // Where the automaton must run: around each block that is a gram.
        let reach = self.longest.saturating_sub(GRAM);
        let mut windows: Vec<(usize, usize)> = Vec::new();
        for (block, bytes) in skel.chunks_exact(GRAM).enumerate() {
            if !gram(bytes).is_some_and(|g| self.grams.contains(&g)) {
                continue;
            }
            let at = block * GRAM;
            let (start, end) = (at.saturating_sub(reach), (at + self.longest).min(skel.len()));
            match windows.last_mut() {
                Some(last) if start <= last.1 => last.1 = end,
                _ => windows.push((start, end)),
            }
        }
        let mut matches: Vec<(usize, usize, usize)> = Vec::new();
        for (start, end) in windows {
            let Some(window) = skel.get(start..end) else { continue };
            matches.extend(automaton.find_iter(window).filter_map(|m| {
                let index = *self.patterns.get(m.pattern().as_usize())?;
                Some((index, start + m.start(), start + m.end()))
            }));
        }
        if matches.is_empty() {
            return;
        }
        let mut positions: Vec<usize> =
            matches.iter().flat_map(|&(_, start, end)| [start, end.saturating_sub(1)]).collect();
        positions.sort_unstable();
        positions.dedup();
        let located = spans(haystack, &positions);
        let span_of = |position: usize| {
            positions.binary_search(&position).ok().and_then(|i| located.get(i)).copied()
        };
        for (index, start, end) in matches {
            let (Some((from, _)), Some((_, to)), Some(name)) =
                (span_of(start), span_of(end.saturating_sub(1)), names.get(index))
            else {
                continue;
            };
            out.push(Finding {
                name: name.clone(),
                encoding: Encoding::Normalized,
                offset: from,
                len: to.saturating_sub(from),
            });
        }
    }
}

/// Eight bytes as one integer.
fn gram(bytes: &[u8]) -> Option<u64> {
    <[u8; GRAM]>::try_from(bytes).ok().map(u64::from_le_bytes)
}

/// A multiplicative hash for the 8-gram set: its keys come from the secrets,
/// not from the haystack, so nothing an agent sends can crowd one bucket.
#[derive(Default)]
struct GramHasher(u64);

impl Hasher for GramHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let mixed = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
