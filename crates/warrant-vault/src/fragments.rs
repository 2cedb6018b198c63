//! Pieces of a secret that leave one at a time: split across the headers of
//! one request in any order, or across the calls of one session.
//!
//! Each secret whose skeleton (its letters and digits once cheap disguises
//! are undone: the private `skeleton` module) is long enough is indexed by
//! its k-grams: every run of k consecutive skeleton characters, k = 8
//! (10 for a secret of hex digits only, so that a gram is 40 bits or more
//! either way). [`LeakScanner::fragments`](crate::scan::LeakScanner::fragments)
//! finds the grams in each part of a message, in any order and in any
//! disguise the skeleton undoes, and marks which characters of which secret
//! they cover. An [`Exposure`] is what of each secret has gone out in one
//! session; [`Exposure::admit`] refuses a message once the characters gone
//! out, with the message's, reach half of the secret, and otherwise adds
//! them.
//!
//! Why half: the half left of any indexed secret is at least 8 characters,
//! out of reach of guessing it online against the service it opens; before
//! that, what went out is not enough to rebuild the secret. Why only some
//! grams count: a gram counts only when letters and digits alternate at
//! least twice in it, and only secrets with at least 16 countable characters
//! are indexed. Random tokens are full of such grams; a word, a number, or a
//! word and a number (`summer20`, `vacation`) are not, so the human-chosen
//! parts of a password do not add up on ordinary text. The prefix a
//! placeholder shares with its secret (`ghp_`, `github_pat_`) is not indexed:
//! an agent sends its placeholder all the time.
//!
//! Not found: pieces shorter than k, pieces in an encoding (base64, hex), a
//! secret with too few countable grams (digits only, letters only, a
//! passphrase), and pieces spread over more than one session.

use crate::VaultError;
use crate::placeholder::kept_prefix_len;
use crate::scan::LeakScanner;
use crate::skeleton::{MIN_SKELETON_LEN, skeleton, walk};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use zeroize::Zeroizing;

/// A secret of the index.
struct Indexed {
    /// Its index in the scanner's names.
    name: usize,
    /// Names it across scanners, so an [`Exposure`] survives a vault reload
    /// and a new value under an old name starts from nothing.
    id: [u8; 32],
    /// Skeleton length: the bits of a coverage set.
    len: usize,
    /// How many characters countable grams cover; half of it blocks.
    threshold: usize,
}

/// The k-grams of the secrets a scanner was built over.
pub(crate) struct FragmentIndex {
    automaton: Option<AhoCorasick>,
    /// For each gram: every (secret, position) where it occurs.
    places: Vec<Vec<(usize, usize)>>,
    /// For each gram: its length.
    lengths: Vec<usize>,
    secrets: Vec<Indexed>,
}

impl FragmentIndex {
    /// Indexes `(name index, name, secret)`; secrets too short or without
    /// enough countable grams are left out.
    pub(crate) fn build<'a>(
        secrets: impl IntoIterator<Item = (usize, &'a str, &'a [u8])>,
    ) -> Result<Self, VaultError> {
        // Grams already added, by digest (a `Zeroizing` buffer is not `Hash`).
        let mut grams: HashMap<[u8; 32], usize> = HashMap::new();
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut places: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut indexed = Vec::new();
        for (name, label, secret) in secrets {
            let prefix = kept_prefix_len(secret);
            let skel = skeleton(secret);
            // Skeleton characters that come from the kept prefix.
            let mut public = 0;
            walk(secret, |start, _, _| public += usize::from(start < prefix));
            let body = skel.get(public..).unwrap_or_default();
            let k = if body.iter().all(u8::is_ascii_hexdigit) { 10 } else { 8 };
            let starts: Vec<usize> = (public..skel.len().saturating_sub(k - 1))
                .filter(|&at| skel.get(at..at + k).is_some_and(countable))
                .collect();
            let mut covered = vec![false; skel.len()];
            for &at in &starts {
                covered.iter_mut().skip(at).take(k).for_each(|c| *c = true);
            }
            let countable_len = covered.iter().filter(|c| **c).count();
            if skel.len() < MIN_SKELETON_LEN || countable_len < MIN_SKELETON_LEN {
                continue;
            }
            let secret_index = indexed.len();
            for at in starts {
                let Some(piece) = skel.get(at..at + k) else { continue };
                let key: [u8; 32] = Sha256::digest(piece).into();
                let gram = match grams.get(&key) {
                    Some(&gram) => gram,
                    None => {
                        grams.insert(key, patterns.len());
                        patterns.push(Zeroizing::new(piece.to_vec()));
                        places.push(Vec::new());
                        patterns.len() - 1
                    }
                };
                if let Some(list) = places.get_mut(gram) {
                    list.push((secret_index, at));
                }
            }
            let mut digest = Sha256::new();
            digest.update(label.as_bytes());
            digest.update([0]);
            digest.update(skel.as_slice());
            indexed.push(Indexed {
                name,
                id: digest.finalize().into(),
                len: skel.len(),
                threshold: countable_len.div_ceil(2),
            });
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(patterns.iter().map(|p| p.as_slice()))
                .map_err(|e| VaultError::ScannerBuild { reason: e.to_string() })?;
            Some(built)
        };
        let lengths = patterns.iter().map(|p| p.len()).collect();
        Ok(Self { automaton, places, lengths, secrets: indexed })
    }

    /// The characters of each secret the grams in `parts` cover.
    pub(crate) fn find(&self, parts: &[&[u8]]) -> Fragments {
        let mut covered: BTreeMap<usize, Coverage> = BTreeMap::new();
        let Some(automaton) = &self.automaton else { return Fragments { covered } };
        for part in parts {
            let skel = skeleton(part);
            for m in automaton.find_overlapping_iter(skel.as_slice()) {
                let gram = m.pattern().as_usize();
                let len = self.lengths.get(gram).copied().unwrap_or(0);
                for &(secret, at) in self.places.get(gram).map(Vec::as_slice).unwrap_or_default() {
                    let Some(indexed) = self.secrets.get(secret) else { continue };
                    let id = indexed.id;
                    let bits = indexed.len;
                    covered
                        .entry(secret)
                        .or_insert_with(|| Coverage { id, bits: vec![false; bits] })
                        .bits
                        .iter_mut()
                        .skip(at)
                        .take(len)
                        .for_each(|c| *c = true);
                }
            }
        }
        Fragments { covered }
    }
}

/// A gram counts when letters and digits alternate in it at least twice.
fn countable(gram: &[u8]) -> bool {
    gram.windows(2)
        .filter(|pair| match pair {
            [a, b] => a.is_ascii_digit() != b.is_ascii_digit(),
            _ => false,
        })
        .count()
        >= 2
}

/// Which characters of one secret were seen.
struct Coverage {
    id: [u8; 32],
    bits: Vec<bool>,
}

/// The pieces of secrets one message carries: which characters of which
/// secret. Holds no secret, only positions. Its `Debug` shows counts.
pub struct Fragments {
    /// By the index's secret.
    covered: BTreeMap<usize, Coverage>,
}

impl Fragments {
    /// Whether the message carried no piece of any secret.
    pub fn is_empty(&self) -> bool {
        self.covered.is_empty()
    }
}

impl fmt::Debug for Fragments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fragments").field("secrets", &self.covered.len()).finish()
    }
}

/// A secret too much of which would have gone out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentLeak {
    pub name: String,
    /// Characters of its skeleton gone out, with this message.
    pub covered: usize,
    /// How many block.
    pub threshold: usize,
}

/// What of each secret has gone out in one session (one agent's tool calls,
/// one run's requests). Its memory is bounded by the secrets of the current
/// scanner: one bit a skeleton character, for each secret seen in part.
#[derive(Default)]
pub struct Exposure {
    covered: HashMap<[u8; 32], Vec<bool>>,
}

impl Exposure {
    /// Refuses `fragments` (found by `scanner`) when, with what went out
    /// before, they reach half of a secret (see the module doc); otherwise
    /// adds them and returns nothing. Secrets no longer in `scanner` are
    /// forgotten.
    pub fn admit(&mut self, scanner: &LeakScanner, fragments: &Fragments) -> Vec<FragmentLeak> {
        let index = scanner.fragment_index();
        let current: HashMap<[u8; 32], &Indexed> =
            index.secrets.iter().map(|s| (s.id, s)).collect();
        self.covered.retain(|id, _| current.contains_key(id));
        let mut leaks = Vec::new();
        for coverage in fragments.covered.values() {
            let Some(indexed) = current.get(&coverage.id) else { continue };
            let before = self.covered.get(&coverage.id);
            let covered = (0..indexed.len)
                .filter(|&i| {
                    coverage.bits.get(i).copied().unwrap_or(false)
                        || before.and_then(|b| b.get(i)).copied().unwrap_or(false)
                })
                .count();
            if covered >= indexed.threshold {
                leaks.push(FragmentLeak {
                    name: scanner.name(indexed.name).unwrap_or_default().to_owned(),
                    covered,
                    threshold: indexed.threshold,
                });
            }
        }
        if !leaks.is_empty() {
            return leaks;
        }
        for coverage in fragments.covered.values() {
            if !current.contains_key(&coverage.id) {
                continue;
            }
            let bits = self.covered.entry(coverage.id).or_default();
            bits.resize(bits.len().max(coverage.bits.len()), false);
            for (bit, seen) in bits.iter_mut().zip(&coverage.bits) {
                *bit |= *seen;
            }
        }
        Vec::new()
    }

    /// How many secrets it holds pieces of.
    pub fn secrets_seen(&self) -> usize {
        self.covered.len()
    }
}

impl fmt::Debug for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exposure").field("secrets", &self.covered.len()).finish()
    }
}
