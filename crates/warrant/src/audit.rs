//! `warrant audit ...`: flags and printing; reading and verifying the log is
//! `warrant_audit_verify`'s.

use crate::cli::print_json;
use anyhow::{Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use warrant_audit_verify::{CheckedWitness, DeclaredReport, VerifyError, Witness};
use warrant_state::Home;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print the latest records; -f keeps following.
    Tail {
        #[arg(short = 'n', default_value_t = 20)]
        lines: usize,
        #[arg(short = 'f', long)]
        follow: bool,
        #[arg(long)]
        json: bool,
    },
    /// Verify the hash chain and signed checkpoints, and check the log
    /// against a witness kept outside the home: --witness, else the witness
    /// the log says it writes (which must be there, whole) and the default
    /// beside the home (`<home>-witness.jsonl`) when it exists.
    Verify {
        /// Print the outcome as JSON (stable field names), for a failed
        /// verification too, beside its reason on stderr.
        #[arg(long)]
        json: bool,
        /// A witness of this log (JSONL of signed checkpoints: the writer's
        /// witness file, lines of `audit export-witness`, or
        /// `journalctl -t warrant-audit -o cat`); it must exist.
        #[arg(long, value_name = "FILE")]
        witness: Option<PathBuf>,
        /// The audit public key to trust (hex, as in keys/audit.pub), kept
        /// outside the home; default: the witness's first line.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Print the log's latest signed checkpoint as one witness line, to
    /// append to a witness kept outside the home.
    ExportWitness {
        /// The audit public key to verify the log with (default: keys/audit.pub).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Export records.
    Export {
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Only records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

pub fn audit(home: &Home, cmd: AuditCommand) -> Result<ExitCode> {
    let db = home.audit_db();
    match cmd {
        AuditCommand::Verify { json, witness, public_key } => {
            audit_verify(home, json, witness, public_key)
        }
        AuditCommand::ExportWitness { public_key } => {
            let key = match public_key {
                Some(path) => warrant_audit_verify::read_public_key(&path)?,
                None => home.load_audit_public_key()?,
            };
            match warrant_audit_verify::latest_checkpoint(&db, &key) {
                Ok(Some(entry)) => {
                    println!("{}", entry.to_line());
                    Ok(ExitCode::SUCCESS)
                }
                Ok(None) => bail!("the audit log has no checkpoint yet"),
                Err(e) => {
                    eprintln!("warrant: audit verification failed: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        AuditCommand::Export { format, after } => {
            if format != "jsonl" {
                bail!("unknown export format `{format}` (supported: jsonl)");
            }
            let mut next = after;
            loop {
                let batch = warrant_audit_verify::read_records(&db, next, 1000)?;
                let Some(last) = batch.last() else { break };
                next = last.seq;
                for r in &batch {
                    println!("{}", serde_json::to_string(r)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Tail { lines, follow, json } => {
            let head = warrant_audit_verify::head_seq(&db)?.unwrap_or(0);
            let mut next = head.saturating_sub(lines as u64);
            loop {
                let batch = warrant_audit_verify::read_records(&db, next, 1000)?;
                for r in &batch {
                    if json {
                        println!("{}", serde_json::to_string(r)?);
                    } else {
                        println!(
                            "{:>6} {} {:<18} {} {}",
                            r.seq,
                            warrant_core::UnixMillis(r.ts_ms).to_rfc3339(),
                            r.kind,
                            r.agent.as_deref().unwrap_or("-"),
                            r.body
                        );
                    }
                    next = r.seq;
                }
                if !follow {
                    return Ok(ExitCode::SUCCESS);
                }
                if batch.is_empty() {
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
    }
}

/// `audit verify`: the log against the home's key, and against a witness:
/// the one given with --witness, else those the log declares (which must be
/// there) and the default beside the home when it exists. A log that never
/// declared a written witness verifies, and the summary says that it has no
/// witness: its witness may never have been writable (see
/// `warrant_audit::default_witness_path`).
///
/// Prints the outcome as sentences, or as JSON with `--json` (for a failure
/// too, beside the one-line reason on stderr); exit status 2 when the log
/// does not verify.
fn audit_verify(
    home: &Home,
    json: bool,
    witness: Option<PathBuf>,
    public_key: Option<PathBuf>,
) -> Result<ExitCode> {
    use warrant_audit_verify::{Failed, Verified};
    let db = home.audit_db();
    let pinned = public_key.as_deref().map(warrant_audit_verify::read_public_key).transpose()?;
    let log_key = home.load_audit_public_key()?;
    match verify_log(&db, &log_key, witness, pinned.as_ref()) {
        Ok(report) => {
            let summary = Verified::new(&db, &report);
            if json {
                print_json(&summary)?;
            } else {
                println!("{summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("warrant: audit verification failed: {error}");
            if json {
                print_json(&Failed::new(&error))?;
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// The log at `db` against the witness given, else against those it declares.
fn verify_log(
    db: &Path,
    log_key: &[u8; 32],
    witness: Option<PathBuf>,
    pinned: Option<&[u8; 32]>,
) -> Result<DeclaredReport, VerifyError> {
    let Some(path) = witness else {
        return warrant_audit_verify::verify_declared(db, log_key, pinned);
    };
    let witness = Witness::read(&path, pinned)
        .map_err(|source| VerifyError::Witness { path: path.clone(), source })?;
    let report = warrant_audit_verify::verify_with_witness(db, &witness, log_key)?;
    Ok(DeclaredReport {
        log: report.log.clone(),
        declared: Vec::new(),
        witnesses: vec![CheckedWitness { path, declared: false, report }],
    })
}
