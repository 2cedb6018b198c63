//! Checking a log against the witness it says it has.
//!
//! A witness the operator names is checked as given
//! ([`crate::verify_with_witness`]). Without one, [`verify_declared`] asks
//! the log: its `audit_witness` records (crate doc) say where each writer
//! copied its checkpoints. So a witness that was removed, emptied or cut
//! while the log still says it was written is a failure, not a warning; only
//! a log that never declared a written witness (written before declarations
//! existed, or by a writer that could not create its default witness) is
//! verified on its own, as before.
//!
//! Which declarations bind: the latest one a checkpoint seals, and every
//! later, unsealed one. An unsealed declaration saying "not written" does
//! not release an earlier witness: records after the last checkpoint can be
//! appended by anyone who can write the file, without the key.
//!
//! This module does not decide whether a witness that is still there was
//! rewritten together with the log (cut back to the same checkpoint): from
//! the log alone, that cannot be told.

use crate::shape::refuse;
use crate::verify::{WitnessDeclaration, check_with_witness, verify_chain};
use crate::witness::{Witness, WitnessError, default_witness_path};
use crate::{VerifyError, VerifyReport, WitnessReport};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What checking a log against its declared witnesses established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredReport {
    /// The log on its own.
    pub log: VerifyReport,
    /// The declarations that bind (see the module doc); empty for a log that
    /// never declared a witness.
    pub declared: Vec<WitnessDeclaration>,
    /// Every witness checked: the declared ones that say written, then the
    /// default witness beside the home if it exists and was not declared.
    pub witnesses: Vec<CheckedWitness>,
}

/// One witness file checked against the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedWitness {
    pub path: PathBuf,
    /// The log says every checkpoint is copied here, so it must hold the
    /// log's latest checkpoint; an undeclared default witness may lag.
    pub declared: bool,
    pub report: WitnessReport,
}

/// Verifies the log at `path` with `log_key` (the home's `keys/audit.pub`)
/// against the witnesses it declares, and the default witness beside the
/// home when it exists. `pinned`, a key the operator keeps elsewhere, must
/// be `log_key` and pins every witness.
///
/// Fails when the log is empty (a log this version writes starts with its
/// declaration: an empty one was emptied, or was created by an older version
/// and never written since); when a declared written witness is missing
/// ([`VerifyError::WitnessRemoved`]), unreadable, empty while the log has
/// checkpoints, or behind the log's latest checkpoint
/// ([`VerifyError::WitnessBehind`]); and for everything
/// [`crate::verify_with_witness`] refuses; last, for a body that is not its
/// kind's shape ([`VerifyError::Malformed`]). The log is walked once on its
/// own, then once per witness.
pub fn verify_declared(
    path: &Path,
    log_key: &[u8; 32],
    pinned: Option<&[u8; 32]>,
) -> Result<DeclaredReport, VerifyError> {
    if let Some(pinned) = pinned
        && pinned != log_key
    {
        return Err(VerifyError::KeyReplaced {
            log_key: hex::encode(log_key),
            witnessed_key: hex::encode(pinned),
        });
    }
    // A malformed body is reported last, after every witness is checked.
    let (log, malformed) = verify_chain(path, log_key)?;
    let declared = binding(&log);
    let mut witnesses: Vec<CheckedWitness> = Vec::new();
    for declaration in declared.iter().filter(|d| d.written) {
        let Some(witness_path) = &declaration.path else { continue };
        if witnesses.iter().any(|w| w.path == *witness_path) {
            continue;
        }
        // Read after the log's snapshot was taken: every checkpoint in it
        // was committed, and so copied, before this read (but for a writer
        // caught between the two, which the error message names).
        let witness = match Witness::read(witness_path, pinned) {
            Ok(witness) => witness,
            Err(WitnessError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(VerifyError::WitnessRemoved {
                    path: witness_path.clone(),
                    seq: declaration.seq,
                });
            }
            Err(source) => return Err(VerifyError::Witness { path: witness_path.clone(), source }),
        };
        let (report, _) = check_with_witness(path, &witness, log_key)?;
        if let Some(checkpoint_seq) = log.last_checkpoint_seq
            && report.witnessed_seq.is_none_or(|seq| seq < checkpoint_seq)
        {
            return Err(VerifyError::WitnessBehind {
                path: witness_path.clone(),
                declared_at: declaration.seq,
                witnessed_seq: report.witnessed_seq.unwrap_or(0),
                checkpoint_seq,
            });
        }
        witnesses.push(CheckedWitness { path: witness_path.clone(), declared: true, report });
    }
    if let Some(default) = default_witness_path(path)
        && default.exists()
        && !witnesses.iter().any(|w| w.path == default)
    {
        let witness = Witness::read(&default, pinned)
            .map_err(|source| VerifyError::Witness { path: default.clone(), source })?;
        let (report, _) = check_with_witness(path, &witness, log_key)?;
        witnesses.push(CheckedWitness { path: default, declared: false, report });
    }
    // Last, so that a witness that remembers more says how much was cut.
    if log.records == 0 {
        return Err(VerifyError::Emptied);
    }
    refuse(malformed)?;
    Ok(DeclaredReport { log, declared, witnesses })
}

/// The declarations whose witnesses must be there: the latest sealed one,
/// and every unsealed one after it. Those that say "not written" are kept,
/// so the caller can say why there is no witness.
fn binding(log: &VerifyReport) -> Vec<WitnessDeclaration> {
    let sealed_up_to = log.last_checkpoint_seq.unwrap_or(0);
    let latest_sealed = log.witness_declarations.iter().rposition(|d| d.seq <= sealed_up_to);
    let from = latest_sealed.unwrap_or(0);
    log.witness_declarations.iter().skip(from).cloned().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn declaration(seq: u64, written: bool) -> WitnessDeclaration {
        WitnessDeclaration {
            seq,
            ts_ms: 0,
            path: Some(PathBuf::from(format!("/w{seq}"))),
            required: false,
            written,
        }
    }

    fn report(last_checkpoint_seq: Option<u64>, declarations: &[(u64, bool)]) -> VerifyReport {
        VerifyReport {
            records: 100,
            checkpoints: 1,
            last_checkpoint_seq,
            head_hash: None,
            unsealed_records: 0,
            witness_declarations: declarations.iter().map(|&(s, w)| declaration(s, w)).collect(),
        }
    }

    fn seqs(log: &VerifyReport) -> Vec<u64> {
        binding(log).iter().map(|d| d.seq).collect()
    }

    #[test]
    fn the_latest_sealed_declaration_and_every_later_one_bind() {
        assert_eq!(seqs(&report(Some(50), &[(1, true), (20, true), (60, true)])), [20, 60]);
        assert_eq!(seqs(&report(Some(50), &[(1, true), (20, false)])), [20]);
    }

    #[test]
    fn an_unsealed_declaration_does_not_release_the_sealed_one_before_it() {
        let log = report(Some(50), &[(1, true), (70, false)]);
        assert_eq!(seqs(&log), [1, 70]);
    }

    #[test]
    fn without_a_checkpoint_every_declaration_binds() {
        assert_eq!(seqs(&report(None, &[(1, true), (3, false)])), [1, 3]);
        assert!(seqs(&report(Some(9), &[])).is_empty());
    }
}
