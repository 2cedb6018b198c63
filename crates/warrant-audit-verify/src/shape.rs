//! Whether a record's body has its kind's shape.
//!
//! The shapes are the types of `warrant-audit-events`, which the writer's
//! callers serialize: this crate shares those types (no I/O, no hashing,
//! no signing), not the writer's code. So the check says whether a body is
//! one the record types allow; it cannot catch a type that is itself wrong,
//! since writer and verifier read the same one. The chain, the hashes and
//! the signatures stay this crate's own implementation of the format.
//!
//! A body that is not its kind's shape, in a chain that holds, was written
//! so: by a writer that does not keep to the types (another version, or a
//! call site not yet moved to them), or appended by whoever could write the
//! file after the last checkpoint, or by whoever holds the audit key. It is
//! reported after every check of the chain, the checkpoints and the
//! witnesses, which say more when they fail too.

use crate::VerifyError;
use warrant_audit_events::{Event, ParseError};

/// The first record found whose body is not its kind's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub(crate) seq: u64,
    pub(crate) kind: String,
    pub(crate) reason: String,
}

/// Why `body`, stored under `kind`, is not a well-formed record of that
/// kind; `None` when it is. Not for `audit_witness`, which only the writer
/// writes and the verifier reads on its own (`verify.rs`).
pub(crate) fn shape_problem(kind: &str, body: &str) -> Option<String> {
    match Event::parse(kind, body) {
        Ok(_) => None,
        Err(ParseError::UnknownKind { .. }) => {
            Some("this version knows no such kind (a newer version may)".to_owned())
        }
        Err(ParseError::Body { source, .. }) => Some(source.to_string()),
    }
}

/// `Err` for the first malformed record, if any.
pub(crate) fn refuse(malformed: Option<Malformed>) -> Result<(), VerifyError> {
    match malformed {
        None => Ok(()),
        Some(Malformed { seq, kind, reason }) => Err(VerifyError::Malformed { seq, kind, reason }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const DECISION: &str = r#"{"arguments":{"sha256":null,"shape":{}},"custody":["operator:a"],"outcome":"deny","reason":"no","rules":["unknown-tool"],"tool":"fs__x"}"#;

    #[test]
    fn a_body_of_its_kinds_shape_passes() {
        assert_eq!(shape_problem("decision", DECISION), None);
        assert_eq!(shape_problem("gateway_stopped", r#"{"reason":"signal"}"#), None);
    }

    #[test]
    fn a_body_of_another_shape_is_named_with_what_is_wrong() {
        let swapped = shape_problem("gateway_stopped", DECISION).unwrap();
        assert!(swapped.contains("unknown field"), "{swapped}");
        let missing = DECISION.replace(r#""outcome":"deny","#, "");
        let reason = shape_problem("decision", &missing).unwrap();
        assert!(reason.starts_with("missing field `outcome`"), "{reason}");
        let retyped = DECISION.replace(r#""rules":["unknown-tool"]"#, r#""rules":"unknown-tool""#);
        assert!(shape_problem("decision", &retyped).unwrap().contains("invalid type"));
        assert!(shape_problem("decision", "[]").is_some());
    }

    #[test]
    fn a_kind_this_version_does_not_know_is_named_as_such() {
        let reason = shape_problem("coffee_made", "{}").unwrap();
        assert_eq!(reason, "this version knows no such kind (a newer version may)");
    }

    #[test]
    fn the_finding_names_the_record_its_kind_and_the_reason() {
        let malformed = Malformed { seq: 7, kind: "decision".into(), reason: "r".into() };
        let err = refuse(Some(malformed)).unwrap_err();
        assert_eq!(err.kind(), "record_malformed");
        let message = err.to_string();
        assert!(message.starts_with("audit record 7 is not a well-formed `decision` record: r"));
        assert!(refuse(None).is_ok());
    }
}
