//! Reading a witness: the copies of a log's signed checkpoints kept outside
//! it, written from the format in the crate doc (not shared with the writer).
//!
//! A [`Witness`] is parsed once, at the boundary: every line is a checkpoint
//! signed by one pinned key (given by the operator, or else the key of the
//! first line). Checking the log against it is [`crate::verify_with_witness`].
//!
//! This module does not decide where a witness should live beyond naming
//! the writer's default ([`default_witness_path`]), and cannot tell whether
//! the file it is given was itself cut or rewritten: a witness is worth what
//! the place it was kept is worth.

use crate::format::checkpoint_message;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One witness line: a checkpoint row's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessEntry {
    pub head_hash: String,
    pub public_key: String,
    pub seq: u64,
    pub signature: String,
    pub ts_ms: i64,
}

impl WitnessEntry {
    /// The line as the writer writes it (fields in key order, no
    /// whitespace), without its newline.
    pub fn to_line(&self) -> String {
        // Field order above is the sorted key order, so serde's output is
        // the canonical form; the fields are plain strings and integers.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A parsed witness: checkpoints by seq, all signed by one pinned key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// The pinned key; `None` for an empty witness with no key given.
    public_key: Option<[u8; 32]>,
    /// Head hash witnessed for each seq.
    heads: BTreeMap<u64, String>,
    /// The entry with the highest seq.
    latest: Option<WitnessEntry>,
    lines: usize,
    torn_tail: bool,
}

/// A witness or a public key file could not be read, or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("cannot read `{}`: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("witness line {line} is not a checkpoint: {reason}")]
    Line { line: usize, reason: String },
    #[error("witness line {line} is signed by public key `{found}`, not the pinned `{pinned}`")]
    OtherKey { line: usize, found: String, pinned: String },
    #[error("witness line {line}: the signature does not verify")]
    Signature { line: usize },
    #[error(
        "witness line {line} seals seq {seq} with another head hash than line {earlier}: the key \
         signed two histories"
    )]
    Conflict { line: usize, earlier: usize, seq: u64 },
    #[error("`{}` is not a public key: expected 64 hex digits of an ed25519 key", .path.display())]
    PublicKey { path: PathBuf },
}

impl Witness {
    /// Reads and parses the witness at `path` (see [`parse`](Self::parse)).
    pub fn read(path: &Path, pinned: Option<&[u8; 32]>) -> Result<Self, WitnessError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| WitnessError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, pinned)
    }

    /// Parses witness lines. Every line must be a checkpoint signed by
    /// `pinned`, or when none is given by the key of the first line. Blank
    /// lines are skipped, and so is an unparsable last line without a
    /// newline (a write cut short by a crash): it is reported, never used.
    pub fn parse(text: &str, pinned: Option<&[u8; 32]>) -> Result<Self, WitnessError> {
        let mut witness = Self {
            public_key: pinned.copied(),
            heads: BTreeMap::new(),
            latest: None,
            lines: 0,
            torn_tail: false,
        };
        let mut line_of: BTreeMap<u64, usize> = BTreeMap::new();
        let segments: Vec<&str> = text.split('\n').collect();
        let last = segments.len().saturating_sub(1);
        for (index, segment) in segments.iter().enumerate() {
            let line = index + 1;
            if segment.trim().is_empty() {
                continue;
            }
            let entry: WitnessEntry = match serde_json::from_str(segment) {
                Ok(entry) => entry,
                Err(_) if index == last => {
                    witness.torn_tail = true;
                    continue;
                }
                Err(err) => return Err(WitnessError::Line { line, reason: err.to_string() }),
            };
            let key = match witness.public_key {
                Some(key) => key,
                None => {
                    let key = parse_key(&entry.public_key).ok_or_else(|| WitnessError::Line {
                        line,
                        reason: "public_key is not an ed25519 key".to_owned(),
                    })?;
                    *witness.public_key.insert(key)
                }
            };
            check_entry(&key, &entry, line)?;
            match witness.heads.get(&entry.seq) {
                Some(head) if *head != entry.head_hash => {
                    let earlier = line_of.get(&entry.seq).copied().unwrap_or(0);
                    return Err(WitnessError::Conflict { line, earlier, seq: entry.seq });
                }
                Some(_) => {}
                None => {
                    witness.heads.insert(entry.seq, entry.head_hash.clone());
                    line_of.insert(entry.seq, line);
                }
            }
            if witness.latest.as_ref().is_none_or(|latest| entry.seq >= latest.seq) {
                witness.latest = Some(entry);
            }
            witness.lines += 1;
        }
        Ok(witness)
    }

    /// The pinned key; `None` only for an empty witness read without one.
    pub fn public_key(&self) -> Option<&[u8; 32]> {
        self.public_key.as_ref()
    }

    /// The witnessed checkpoint with the highest seq.
    pub fn latest(&self) -> Option<&WitnessEntry> {
        self.latest.as_ref()
    }

    /// Checkpoint lines read (duplicates included).
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Whether an unparsable last line without a newline was skipped.
    pub fn torn_tail(&self) -> bool {
        self.torn_tail
    }

    pub(crate) fn heads(&self) -> &BTreeMap<u64, String> {
        &self.heads
    }
}

/// The writer's default witness of the log at `db`: for a log at
/// `<parent>/<home>/audit.db`, `<parent>/<home>-witness.jsonl`. `None` when
/// the log's directory has no parent or no name.
pub fn default_witness_path(db: &Path) -> Option<PathBuf> {
    let home = std::path::absolute(db).ok()?.parent()?.to_owned();
    let name = home.file_name()?.to_str()?;
    Some(home.parent()?.join(format!("{name}-witness.jsonl")))
}

/// Reads a public key file: 64 hex digits (surrounding whitespace allowed),
/// as in `keys/audit.pub`.
pub fn read_public_key(path: &Path) -> Result<[u8; 32], WitnessError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| WitnessError::Read { path: path.to_owned(), source })?;
    parse_key(text.trim()).ok_or_else(|| WitnessError::PublicKey { path: path.to_owned() })
}

/// Checks that `entry` is a checkpoint signed by `key`.
pub(crate) fn check_entry(
    key: &[u8; 32],
    entry: &WitnessEntry,
    line: usize,
) -> Result<(), WitnessError> {
    let pinned = hex::encode(key);
    if entry.public_key != pinned {
        let found = entry.public_key.clone();
        return Err(WitnessError::OtherKey { line, found, pinned });
    }
    if entry.seq == 0 {
        return Err(WitnessError::Line { line, reason: "seals seq 0".to_owned() });
    }
    let verifying = VerifyingKey::from_bytes(key).map_err(|_| WitnessError::Line {
        line,
        reason: "public_key is not an ed25519 key".to_owned(),
    })?;
    let signature = hex::decode(&entry.signature)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or(WitnessError::Signature { line })?;
    let message = checkpoint_message(entry.seq, &entry.head_hash, entry.ts_ms);
    verifying
        .verify_strict(message.as_bytes(), &signature)
        .map_err(|_| WitnessError::Signature { line })
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    let bytes = <[u8; 32]>::try_from(hex::decode(text).ok()?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok().map(|_| bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_default_witness_is_the_writers() {
        assert_eq!(
            default_witness_path(Path::new("/home/op/.warrant/audit.db")),
            Some(PathBuf::from("/home/op/.warrant-witness.jsonl"))
        );
    }

    #[test]
    fn an_empty_witness_pins_nothing_and_garbage_is_refused() {
        let empty = Witness::parse("\n\n", None).unwrap();
        assert_eq!((empty.public_key(), empty.lines()), (None, 0));
        assert!(matches!(
            Witness::parse("not json\n", None),
            Err(WitnessError::Line { line: 1, .. })
        ));
        let torn = Witness::parse("{\"head_hash\":\"ab", None).unwrap();
        assert!(torn.torn_tail());
    }

    #[test]
    fn an_entry_line_is_written_with_sorted_keys() {
        let entry = WitnessEntry {
            head_hash: "ab".into(),
            public_key: "cd".into(),
            seq: 3,
            signature: "ef".into(),
            ts_ms: 9,
        };
        assert_eq!(
            entry.to_line(),
            r#"{"head_hash":"ab","public_key":"cd","seq":3,"signature":"ef","ts_ms":9}"#
        );
    }
}
