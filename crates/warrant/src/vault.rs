//! `warrant vault ...`: flags and printing. No output here holds a
//! credential's value; the work is in `vault_ops.rs`.

use crate::cli::print_json;
use anyhow::Result;
use clap::Subcommand;
use warrant_state::Home;

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Add a credential. Its value is asked for (no echo), or read from
    /// standard input when that is not a terminal; never an argument. The
    /// passphrase comes from a prompt or $WARRANT_VAULT_PASSPHRASE; the first
    /// `add` creates the vault. Without --header or --env the value goes in
    /// `Authorization: Bearer ...`.
    Add {
        name: String,
        /// A host the credential may be sent to (repeatable; `*.example.com`
        /// for its subdomains).
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
        /// The HTTP header that carries it.
        #[arg(long)]
        header: Option<String>,
        /// The header value, `{}` standing for the secret, e.g. 'Bearer {}'.
        #[arg(long, requires = "header")]
        format: Option<String>,
        /// The environment variable that carries it into a `warrant run`
        /// sandbox (as a placeholder the egress proxy swaps).
        #[arg(long, value_name = "VAR")]
        env: Option<String>,
        /// When it should be rotated, from now (e.g. 90d); `vault list` shows it.
        #[arg(long, value_name = "DURATION")]
        rotation_due: Option<humantime::Duration>,
        #[arg(long)]
        json: bool,
    },
    /// Credentials' names, bindings and dates (no passphrase needed; never values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a credential; its leases end.
    Rm { name: String },
    /// Give a credential a new value (asked for, or from standard input);
    /// its leases end and upstreams that receive it restart.
    Rotate {
        name: String,
        /// When it should be rotated next, from now (e.g. 90d).
        #[arg(long, value_name = "DURATION")]
        rotation_due: Option<humantime::Duration>,
    },
    /// Forget the vault's key cached in the OS keychain (`[vault]
    /// key_cache`): the next command asks for the passphrase again.
    Lock,
    /// Credential leases: who may use what, where, until when.
    Leases {
        /// Ended leases too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: VaultCommand) -> Result<()> {
    use crate::vault_ops;
    let date = |t: Option<warrant_core::UnixMillis>| t.map_or("-".to_owned(), |t| t.to_rfc3339());
    match cmd {
        VaultCommand::Add { name, hosts, header, format, env, rotation_due, json } => {
            let rotation_due = rotation_due.map(Into::into);
            let options = vault_ops::AddOptions { name, hosts, header, format, env, rotation_due };
            let info = vault_ops::add(home, options)?;
            if json {
                print_json(&info)?;
            } else {
                println!(
                    "added {} (hosts: {})",
                    info.name,
                    if info.binding.hosts.is_empty() {
                        "none".to_owned()
                    } else {
                        info.binding.hosts.join(", ")
                    }
                );
            }
        }
        VaultCommand::List { json } => {
            let list = vault_ops::list(home)?;
            if json {
                print_json(&list)?;
            } else {
                println!(
                    "{:<24} {:<32} {:<28} {:<26} {:<26} ROTATION DUE",
                    "NAME", "HOSTS", "INJECTED AS", "CREATED", "LAST USED"
                );
                for info in list {
                    let b = &info.binding;
                    let mut carried = Vec::new();
                    if let Some(h) = &b.header {
                        carried.push(format!("{h}: {}", b.format.as_deref().unwrap_or("{}")));
                    }
                    if let Some(e) = &b.env {
                        carried.push(format!("${e}"));
                    }
                    println!(
                        "{:<24} {:<32} {:<28} {:<26} {:<26} {}",
                        info.name,
                        if b.hosts.is_empty() { "-".to_owned() } else { b.hosts.join(",") },
                        carried.join(" "),
                        info.created_at.to_rfc3339(),
                        date(info.last_used_at),
                        date(info.rotation_due_at),
                    );
                }
            }
        }
        VaultCommand::Rm { name } => {
            let ended = vault_ops::remove(home, &name)?;
            println!("removed {name}; {} lease(s) ended", ended.len());
        }
        VaultCommand::Rotate { name, rotation_due } => {
            let ended = vault_ops::rotate(home, &name, rotation_due.map(Into::into))?;
            println!("rotated {name}; {} lease(s) ended", ended.len());
        }
        VaultCommand::Lock => {
            if vault_ops::lock(home)? {
                println!(
                    "locked: the vault's cached key is gone; the next command asks for the passphrase"
                );
            } else {
                println!("nothing to lock: no key of this vault is cached");
            }
        }
        VaultCommand::Leases { all, json } => {
            let leases = vault_ops::leases(home, all)?;
            if json {
                print_json(&leases)?;
            } else {
                for l in leases {
                    println!(
                        "{:<40} {:<24} {:<12} agent {}  hosts {}  until {}{}",
                        l.id,
                        l.credential,
                        l.via,
                        l.agent,
                        l.hosts.join(","),
                        l.expires_at,
                        l.end_reason.map(|r| format!("  ended ({r})")).unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}
