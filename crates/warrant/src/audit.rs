//! `warrant audit ...`: flags and printing; reading and verifying the log is
//! `warrant_audit_verify`'s.

use crate::cli::print_json;
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
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
/// declared a written witness is verified with a warning: its witness may
/// never have been writable (see `warrant_audit::default_witness_path`).
fn audit_verify(
    home: &Home,
    json: bool,
    witness: Option<PathBuf>,
    public_key: Option<PathBuf>,
) -> Result<ExitCode> {
    use warrant_audit_verify::{CheckedWitness, Witness};
    let db = home.audit_db();
    let pinned = public_key.as_deref().map(warrant_audit_verify::read_public_key).transpose()?;
    let log_key = home.load_audit_public_key()?;
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("warrant: audit verification failed: {e}");
        Ok(ExitCode::from(2))
    };
    let checked = match witness {
        Some(path) => {
            let witness = match Witness::read(&path, pinned.as_ref()) {
                Ok(witness) => witness,
                Err(e) => return fail(&format_args!("witness `{}`: {e}", path.display())),
            };
            match warrant_audit_verify::verify_with_witness(&db, &witness, &log_key) {
                Ok(report) => warrant_audit_verify::DeclaredReport {
                    log: report.log.clone(),
                    declared: Vec::new(),
                    witnesses: vec![CheckedWitness { path, declared: false, report }],
                },
                Err(e) => return fail(&e),
            }
        }
        None => match warrant_audit_verify::verify_declared(&db, &log_key, pinned.as_ref()) {
            Ok(checked) => checked,
            Err(e) => return fail(&e),
        },
    };
    if json {
        let witnesses: Vec<Value> = checked
            .witnesses
            .iter()
            .map(|CheckedWitness { path, declared, report: w }| {
                json!({
                    "path": path, "declared": declared, "lines": w.witness_lines,
                    "witnessed_seq": w.witnessed_seq,
                    "unwitnessed_records": w.unwitnessed_records, "torn_tail": w.torn_tail,
                })
            })
            .collect();
        print_json(&json!({
            "ok": true, "report": checked.log, "witness": witnesses.first(),
            "witnesses": witnesses, "declared": checked.declared,
        }))?;
    } else {
        println!("audit log intact: {:?}", checked.log);
    }
    for CheckedWitness { path, report: w, .. } in &checked.witnesses {
        let seq = w.witnessed_seq.map_or("none".to_owned(), |s| s.to_string());
        eprintln!(
            "warrant: witness `{}`: {} lines, latest checkpoint seq {seq}; the {} records after \
             it are not witnessed (their removal would not be detected)",
            path.display(),
            w.witness_lines,
            w.unwitnessed_records
        );
        if w.torn_tail {
            eprintln!("warrant: the witness's last line was cut short and was skipped");
        }
    }
    if checked.witnesses.is_empty() {
        let declared = checked.declared.last().and_then(|d| d.path.as_deref());
        let path = declared
            .map(std::path::Path::to_owned)
            .or_else(|| warrant_audit_verify::default_witness_path(&db))
            .map_or("(none for this home)".into(), |p| p.display().to_string());
        let why = if checked.declared.is_empty() {
            "the log declares none"
        } else {
            "the log says it could not be written"
        };
        eprintln!(
            "warrant: no witness at `{path}` ({why}): a log cut back or replaced with its key \
             cannot be detected; keep a witness outside the home (`warrant audit \
             export-witness`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
