//! What `warrant audit verify` says about a log: sentences for a person
//! ([`fmt::Display`]) and JSON for a script ([`Serialize`]), for a log that
//! verified ([`Verified`]) and for one that did not ([`Failed`]).
//!
//! The JSON field names and the error `kind`s are an interface: fields may
//! be added, none renamed or removed. The sentences are for reading and may
//! change. Nothing here decides anything: it words what
//! [`crate::verify_declared`] and [`crate::verify_with_witness`] found.

use crate::{
    CheckedWitness, DeclaredReport, VerifyError, WitnessDeclaration, default_witness_path,
};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A log that verified, with every witness it was checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Always `true`.
    pub ok: bool,
    pub log: LogSummary,
    /// Every witness checked, in the order checked; empty when none was.
    pub witnesses: Vec<WitnessSummary>,
    /// The log's witness declarations that bind (see [`crate::verify_declared`]).
    pub declarations: Vec<WitnessDeclaration>,
    /// Set when no witness was checked: where one was expected, and why
    /// there was none. A cut or replaced log then goes unnoticed.
    pub missing_witness: Option<MissingWitness>,
}

/// The log on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    pub path: PathBuf,
    /// Records, each chained to the one before it.
    pub records: u64,
    /// The hash of the last record; `None` for an empty log.
    pub head_hash: Option<String>,
    /// Checkpoints, each signed by the audit key.
    pub checkpoints: u64,
    /// The highest seq a checkpoint seals; `None` before the first.
    pub last_checkpoint_seq: Option<u64>,
    /// Records after the last checkpoint: chained, not signed, so cutting
    /// them is not detected.
    pub unsealed_records: u64,
}

/// One witness file the log was checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessSummary {
    pub path: PathBuf,
    /// The log declares it (so it had to hold the latest checkpoint);
    /// `false` for the default witness found beside the home, or one named
    /// with `--witness`.
    pub declared: bool,
    /// Checkpoint lines read.
    pub lines: usize,
    /// The highest seq it holds a checkpoint of; `None` when it is empty.
    pub witnessed_seq: Option<u64>,
    /// Records after `witnessed_seq`: removing them is not detected.
    pub unwitnessed_records: u64,
    /// Its last line was cut short (a crash mid-write) and skipped.
    pub torn_tail: bool,
}

/// Where a witness was expected and why none was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingWitness {
    /// The declared or default witness path; `None` when the log's home has
    /// no place for one.
    pub path: Option<PathBuf>,
    pub reason: MissingReason,
}

/// Why no witness was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingReason {
    /// The log declares no witness (written before declarations existed).
    NotDeclared,
    /// The log says its writer could not write the witness.
    NotWritten,
}

/// A log that did not verify, or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// Always `false`.
    pub ok: bool,
    pub error: FailureSummary,
}

/// What was wrong, for a script: `kind` to branch on, `message` for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureSummary {
    /// One of [`VerifyError::kind`]'s names.
    pub kind: &'static str,
    /// The first record found not as written (`record_tampered`), or not
    /// of its kind's shape (`record_malformed`).
    pub seq: Option<u64>,
    /// The checkpoint found invalid (`bad_checkpoint`).
    pub checkpoint: Option<i64>,
    /// The log or witness file concerned, where the error names one.
    pub path: Option<PathBuf>,
    /// The error's one-line message, as on stderr.
    pub message: String,
}

impl Verified {
    /// Summarizes `report`, the verification of the log at `log`.
    pub fn new(log: &Path, report: &DeclaredReport) -> Self {
        let missing_witness = report.witnesses.is_empty().then(|| {
            let declared = report.declared.last().and_then(|d| d.path.clone());
            MissingWitness {
                path: declared.or_else(|| default_witness_path(log)),
                reason: if report.declared.is_empty() {
                    MissingReason::NotDeclared
                } else {
                    MissingReason::NotWritten
                },
            }
        });
        Self {
            ok: true,
            log: LogSummary {
                path: log.to_owned(),
                records: report.log.records,
                head_hash: report.log.head_hash.clone(),
                checkpoints: report.log.checkpoints,
                last_checkpoint_seq: report.log.last_checkpoint_seq,
                unsealed_records: report.log.unsealed_records,
            },
            witnesses: report.witnesses.iter().map(WitnessSummary::from).collect(),
            declarations: report.declared.clone(),
            missing_witness,
        }
    }
}

impl From<&CheckedWitness> for WitnessSummary {
    fn from(checked: &CheckedWitness) -> Self {
        Self {
            path: checked.path.clone(),
            declared: checked.declared,
            lines: checked.report.witness_lines,
            witnessed_seq: checked.report.witnessed_seq,
            unwitnessed_records: checked.report.unwitnessed_records,
            torn_tail: checked.report.torn_tail,
        }
    }
}

impl Failed {
    pub fn new(error: &VerifyError) -> Self {
        let (seq, checkpoint) = match error {
            VerifyError::Tampered { seq, .. } | VerifyError::Malformed { seq, .. } => {
                (Some(*seq), None)
            }
            VerifyError::BadCheckpoint { id, .. } => (None, Some(*id)),
            _ => (None, None),
        };
        let path = match error {
            VerifyError::Open { path, .. }
            | VerifyError::Format { path, .. }
            | VerifyError::Read { path, .. }
            | VerifyError::WitnessRemoved { path, .. }
            | VerifyError::WitnessBehind { path, .. }
            | VerifyError::Witness { path, .. } => Some(path.clone()),
            _ => None,
        };
        Self {
            ok: false,
            error: FailureSummary {
                kind: error.kind(),
                seq,
                checkpoint,
                path,
                message: error.to_string(),
            },
        }
    }
}

impl VerifyError {
    /// A stable snake_case name for what went wrong, for scripts: the JSON
    /// `error.kind` of `warrant audit verify --json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Open { .. } => "cannot_open",
            Self::Format { .. } => "not_a_log",
            Self::Read { .. } => "cannot_read",
            Self::PublicKey => "bad_public_key",
            Self::Tampered { .. } => "record_tampered",
            Self::BadCheckpoint { .. } => "bad_checkpoint",
            Self::KeyReplaced { .. } => "key_replaced",
            Self::Shrunken { .. } => "log_cut",
            Self::Unwitnessed { .. } => "witness_emptied",
            Self::WitnessRemoved { .. } => "witness_removed",
            Self::WitnessBehind { .. } => "witness_cut",
            Self::Witness { .. } => "bad_witness",
            Self::Emptied => "log_emptied",
            Self::Malformed { .. } => "record_malformed",
        }
    }
}

/// "1 record", "2 records".
fn count(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

impl fmt::Display for Verified {
    /// One line for the log, then one per witness (or one saying there was
    /// none), without a final newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.log)?;
        for witness in &self.witnesses {
            write!(f, "\n{witness}")?;
        }
        if let Some(missing) = &self.missing_witness {
            write!(f, "\n{missing}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LogSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit log intact: {}, each chained to the one before it",
            count(self.records, "record")
        )?;
        let Some(sealed) = self.last_checkpoint_seq else {
            return write!(
                f,
                "; no checkpoint yet, so none is signed and cutting them would not be detected"
            );
        };
        let signed = count(self.checkpoints, "checkpoint");
        let seal = if self.checkpoints == 1 { "seals" } else { "seal" };
        match self.unsealed_records {
            0 => write!(f, "; {signed} signed by the audit key {seal} them all"),
            1 => write!(
                f,
                "; {signed} signed by the audit key {seal} records 1 to {sealed}; the record \
                 after them is not signed yet (cutting it would not be detected)"
            ),
            n => write!(
                f,
                "; {signed} signed by the audit key {seal} records 1 to {sealed}; the {n} \
                 records after them are not signed yet (cutting them would not be detected)"
            ),
        }
    }
}

impl fmt::Display for WitnessSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = if self.declared { "declared by the log" } else { "not declared by the log" };
        write!(f, "witness `{}` ({whose}): ", self.path.display())?;
        match self.witnessed_seq {
            None => write!(f, "empty, as the log has no checkpoint yet")?,
            Some(seq) => {
                write!(
                    f,
                    "{} up to record {seq}, all found in the log",
                    count(self.lines as u64, "checkpoint")
                )?;
                match self.unwitnessed_records {
                    0 => write!(f, "; it covers every record")?,
                    1 => write!(
                        f,
                        "; the record after them is in no witness (removing it would not be \
                         detected)"
                    )?,
                    n => write!(
                        f,
                        "; the {n} records after them are in no witness (removing them would \
                         not be detected)"
                    )?,
                }
            }
        }
        if self.torn_tail {
            write!(f, "; its last line was cut short and skipped")?;
        }
        Ok(())
    }
}

impl fmt::Display for MissingWitness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            MissingReason::NotDeclared => "the log declares none",
            MissingReason::NotWritten => "the log says it could not be written",
        };
        match &self.path {
            Some(path) => write!(f, "no witness at `{}` ({why})", path.display())?,
            None => write!(f, "no witness for this home ({why})")?,
        }
        write!(
            f,
            ": a log cut back or replaced together with its key cannot be detected; keep a \
             witness outside the home (`warrant audit export-witness`)"
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::{VerifyReport, WitnessReport};

    fn report(records: u64, last_checkpoint_seq: Option<u64>) -> VerifyReport {
        VerifyReport {
            records,
            checkpoints: u64::from(last_checkpoint_seq.is_some()),
            last_checkpoint_seq,
            head_hash: Some("ab".into()),
            unsealed_records: records - last_checkpoint_seq.unwrap_or(0),
            witness_declarations: Vec::new(),
        }
    }

    fn witness(log: &VerifyReport, witnessed_seq: Option<u64>) -> CheckedWitness {
        CheckedWitness {
            path: PathBuf::from("/op/home-witness.jsonl"),
            declared: true,
            report: WitnessReport {
                log: log.clone(),
                witnessed_seq,
                witness_lines: 1,
                unwitnessed_records: log.records - witnessed_seq.unwrap_or(0),
                torn_tail: false,
            },
        }
    }

    fn verified(log: VerifyReport, witnesses: Vec<CheckedWitness>) -> Verified {
        let declared = DeclaredReport { log, declared: Vec::new(), witnesses };
        Verified::new(Path::new("/op/home/audit.db"), &declared)
    }

    #[test]
    fn a_sealed_witnessed_log_is_one_sentence_per_file() {
        let log = report(12, Some(12));
        let text = verified(log.clone(), vec![witness(&log, Some(12))]).to_string();
        assert_eq!(
            text,
            "audit log intact: 12 records, each chained to the one before it; 1 checkpoint \
             signed by the audit key seals them all\n\
             witness `/op/home-witness.jsonl` (declared by the log): 1 checkpoint up to record \
             12, all found in the log; it covers every record"
        );
    }

    #[test]
    fn what_is_not_sealed_or_witnessed_is_counted() {
        let log = report(12, Some(9));
        let text = verified(log.clone(), vec![witness(&log, Some(5))]).to_string();
        assert!(
            text.contains("records 1 to 9; the 3 records after them are not signed yet"),
            "{text}"
        );
        assert!(text.contains("the 7 records after them are in no witness"), "{text}");
        let text = verified(report(1, None), Vec::new()).to_string();
        assert!(text.contains("1 record, each chained"), "{text}");
        assert!(text.contains("no checkpoint yet"), "{text}");
    }

    #[test]
    fn a_log_without_a_witness_says_where_one_was_expected() {
        let summary = verified(report(4, Some(4)), Vec::new());
        let missing = summary.missing_witness.clone().unwrap();
        assert_eq!(missing.path, Some(PathBuf::from("/op/home-witness.jsonl")));
        assert_eq!(missing.reason, MissingReason::NotDeclared);
        assert!(summary.to_string().ends_with("(`warrant audit export-witness`)"));
    }

    #[test]
    fn the_json_field_names_are_the_documented_ones() {
        let log = report(3, Some(3));
        let json =
            serde_json::to_value(verified(log.clone(), vec![witness(&log, Some(3))])).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&json), ["declarations", "log", "missing_witness", "ok", "witnesses"]);
        assert_eq!(
            keys(&json["log"]),
            [
                "checkpoints",
                "head_hash",
                "last_checkpoint_seq",
                "path",
                "records",
                "unsealed_records"
            ]
        );
        assert_eq!(
            keys(&json["witnesses"][0]),
            ["declared", "lines", "path", "torn_tail", "unwitnessed_records", "witnessed_seq"]
        );
        let failed = serde_json::to_value(Failed::new(&VerifyError::Tampered {
            seq: 6,
            reason: "hash does not match the record's contents".into(),
        }))
        .unwrap();
        assert_eq!(failed["ok"], false);
        assert_eq!(keys(&failed["error"]), ["checkpoint", "kind", "message", "path", "seq"]);
        assert_eq!(failed["error"]["kind"], "record_tampered");
        assert_eq!(failed["error"]["seq"], 6);
    }
}
