//! Flags and the dispatch to library functions.

use crate::ops;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use warrant_control::{self as control, ControlRequest};
use warrant_gateway::UpOptions;
use warrant_state::Home;

#[derive(Parser)]
#[command(name = "warrant", version, about = "No agent acts without a warrant.")]
pub struct Args {
    /// The Warrant home (default: $WARRANT_HOME, else ~/.warrant).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the home: config, keys, empty stores, default policy.
    Init,
    /// Run the gateway in the foreground (creates the home if missing).
    Up {
        /// Listen here instead of `gateway.listen` (loopback only; port 0 picks one).
        #[arg(long, value_name = "IP:PORT")]
        listen: Option<SocketAddr>,
        /// Discovery mode: let calls that policy would deny or ask about
        /// through, recorded as "would deny"/"would ask", for `policy suggest`.
        #[arg(long)]
        discover: bool,
        /// Discovery mode for the agents of this name only (repeatable);
        /// every other agent is enforced as usual.
        #[arg(long, value_name = "NAME", conflicts_with = "discover")]
        discover_agent: Vec<String>,
    },
    /// The running gateway: endpoints, upstreams, health.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Agent credentials.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// A stdio MCP server relaying to the running gateway (token from WARRANT_TOKEN).
    Mcp {
        /// The gateway's MCP URL (default: ask the running gateway).
        #[arg(long)]
        url: Option<String>,
    },
    /// Calls waiting for a person.
    Approvals {
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting call.
    Approve {
        id: String,
        /// Who approves (default: operator:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Deny a waiting call.
    Deny {
        id: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Run a command (an agent, or one command) in a sandbox, with an
    /// identity of its own and the network only through Warrant.
    Run {
        /// `strict` (no network), `coding-agent` (egress through Warrant),
        /// or a profile in `<home>/profiles/NAME.toml`.
        #[arg(long, default_value = "strict")]
        profile: String,
        /// Also mount this path read-write (repeatable).
        #[arg(long, value_name = "PATH")]
        rw: Vec<PathBuf>,
        /// Also mount this path read-only (repeatable).
        #[arg(long, value_name = "PATH")]
        ro: Vec<PathBuf>,
        /// Declare a host the command may reach through the egress proxy
        /// (`example.com`, or `*.example.com`; repeatable); policy decides.
        #[arg(long, value_name = "HOST")]
        allow_host: Vec<String>,
        /// The agent's name (default `run`).
        #[arg(long)]
        name: Option<String>,
        /// What the run is for (default: the command line).
        #[arg(long)]
        task: Option<String>,
        /// A vault credential the command may use (repeatable): its
        /// environment variable holds a placeholder, which the egress proxy
        /// swaps for the secret only in requests to the credential's hosts.
        #[arg(long = "credential", value_name = "NAME")]
        credentials: Vec<String>,
        /// The command and its arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            required = true,
            value_name = "CMD"
        )]
        command: Vec<std::ffi::OsString>,
    },
    /// What this host can enforce, control by control, and whether each
    /// shipped sandbox profile starts here.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Stop an agent (id or name), or every agent, at once; holds across restarts.
    Kill(KillArgs),
    /// Lift a kill (`--all` lifts every kill).
    Resume(KillArgs),
    /// Tool pins and quarantine.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(crate::audit::AuditCommand),
    /// Policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The credential vault: secrets Warrant uses on agents' behalf, never
    /// shown to them (or printed by any command).
    #[command(subcommand)]
    Vault(crate::vault::VaultCommand),
}

/// What `kill` and `resume` act on.
#[derive(clap::Args)]
struct KillArgs {
    /// Agent id, or name (every instance of it).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    agent: Option<String>,
    /// Every agent.
    #[arg(long)]
    all: bool,
    /// Who acts (default: operator:$USER).
    #[arg(long)]
    by: Option<String>,
}

#[derive(Subcommand)]
enum AgentsCommand {
    /// Issue a credential for a new agent instance, or with --parent-token
    /// for a child of an agent, with a subset of its rights.
    Spawn {
        name: String,
        #[arg(long, default_value = "")]
        task: String,
        /// Lifetime, e.g. 30m, 1h (at most 24h; a child's is cut to its
        /// parent's). Default 1h.
        #[arg(long)]
        ttl: Option<humantime::Duration>,
        /// Spawn a child of the agent holding this token (better passed in
        /// the environment than on the command line).
        #[arg(long, env = "WARRANT_PARENT_TOKEN", hide_env_values = true)]
        parent_token: Option<String>,
        /// The child's tools at most, comma-separated (upstream__tool); a
        /// subset of its parent's.
        #[arg(long, value_delimiter = ',', requires = "parent_token")]
        tools: Option<Vec<String>>,
        /// The directory Warrant's built-in file tools work beneath for
        /// this agent (and its children).
        #[arg(long, value_name = "DIR", conflicts_with = "parent_token")]
        workspace: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Issued agents.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an agent's credential, permanently.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ToolsCommand {
    /// Pinned and quarantined tools.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show how a quarantined tool's definition differs from its pin, and
    /// accept it.
    Accept {
        /// Tool as agents see it: upstream__tool.
        tool: String,
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate the policies against the schema.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Print Cedar that permits exactly the calls observed in discovery mode.
    Suggest {
        /// Agent name.
        #[arg(long)]
        agent: String,
    },
    /// Show the decision for an agent calling a tool with arguments.
    Explain {
        /// Agent name or id.
        #[arg(long)]
        agent: String,
        /// Tool as agents see it: upstream__tool.
        #[arg(long)]
        tool: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        #[arg(long)]
        json: bool,
    },
}

fn resolve_home(flag: Option<PathBuf>) -> Result<Home> {
    let named = if let Some(dir) = flag {
        dir
    } else if let Some(dir) = std::env::var_os("WARRANT_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(dir)
    } else {
        let home =
            std::env::var_os("HOME").context("neither --home, WARRANT_HOME nor HOME is set")?;
        PathBuf::from(home).join(".warrant")
    };
    // One home, one path: where it really is (a link or a relative name
    // resolved), so that what is derived from it (the witness beside it, what
    // sandboxes mask) is the same whichever name was used.
    let absolute = std::path::absolute(&named)?;
    Ok(Home::new(absolute.canonicalize().unwrap_or(absolute)))
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let home = resolve_home(args.home)?;
    match args.command {
        Command::Init => {
            let created = home.init()?;
            println!("warrant home: {}", home.root().display());
            for path in created {
                println!("  created {}", path.display());
            }
        }
        Command::Up { listen, discover, discover_agent } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(warrant_gateway::serve(
                &home,
                UpOptions { listen, discover, discover_agents: discover_agent },
            ))?;
        }
        Command::Status { json } => {
            let status = control::request(&home.control_socket(), &ControlRequest::Status)?;
            if json {
                print_json(&status)?;
            } else {
                print_status(&status);
            }
        }
        Command::Agents(cmd) => agents(&home, cmd)?,
        Command::Mcp { url } => {
            let token = std::env::var("WARRANT_TOKEN").unwrap_or_default();
            let url = match url {
                Some(u) => u,
                None => control::request(&home.control_socket(), &ControlRequest::Status)?
                    .get("mcp_url")
                    .and_then(Value::as_str)
                    .context("the running gateway reported no mcp_url")?
                    .to_owned(),
            };
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(crate::bridge::run(&url, &token))?;
        }
        Command::Approvals { json } => {
            let pending = control::request(&home.control_socket(), &ControlRequest::Approvals)?;
            if json {
                print_json(&pending)?;
            } else {
                let items = pending.as_array().cloned().unwrap_or_default();
                if items.is_empty() {
                    println!("no pending approvals");
                }
                for p in items {
                    print!("{}", ops::approval_text(&p));
                }
            }
        }
        Command::Approve { id, by } => {
            let by = by.unwrap_or_else(warrant_identity::operator);
            let view =
                control::request(&home.control_socket(), &ControlRequest::Approve { id, by })?;
            println!("approved {} ({})", s(&view, "id"), s(&view, "tool"));
        }
        Command::Deny { id, by } => {
            let by = by.unwrap_or_else(warrant_identity::operator);
            let view = control::request(&home.control_socket(), &ControlRequest::Deny { id, by })?;
            println!("denied {} ({})", s(&view, "id"), s(&view, "tool"));
        }
        Command::Kill(KillArgs { agent, all: _, by }) => {
            let by = by.unwrap_or_else(warrant_identity::operator);
            let report = ops::kill(&home, agent.as_deref(), &by)?;
            let note = if report.live {
                "the running gateway refuses it now and cancelled its calls"
            } else {
                "no gateway is running; the kill holds when one starts"
            };
            let also = match report.descendants.len() {
                0 => String::new(),
                n => format!(" and {n} descendant(s)"),
            };
            println!("stopped {}{also}; {note}", report.targets.join(", "));
        }
        Command::Resume(KillArgs { agent, all: _, by }) => {
            let by = by.unwrap_or_else(warrant_identity::operator);
            let report = ops::resume(&home, agent.as_deref(), &by)?;
            println!("resumed {}", report.targets.join(", "));
        }
        Command::Run { profile, rw, ro, allow_host, name, task, credentials, command } => {
            let options = warrant_runner::RunOptions {
                profile,
                rw,
                ro,
                allow_hosts: allow_host,
                name,
                task,
                credentials,
                command,
            };
            let code = warrant_runner::run_sandboxed(&home, options)?;
            return Ok(ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)));
        }
        Command::Doctor { json } => return doctor(&home, json),
        Command::Tools(cmd) => tools(&home, cmd)?,
        Command::Audit(cmd) => return crate::audit::audit(&home, cmd),
        Command::Policy(cmd) => policy(&home, cmd)?,
        Command::Vault(cmd) => crate::vault::run(&home, cmd)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn print_status(status: &Value) {
    println!(
        "gateway   {}  (pid {})",
        s(status, "health"),
        status.get("pid").unwrap_or(&Value::Null)
    );
    println!("mcp_url   {}", s(status, "mcp_url"));
    for u in status.get("upstreams").and_then(Value::as_array).into_iter().flatten() {
        println!(
            "upstream  {:<16} {:<10} tools={} restarts={} {}",
            s(u, "name"),
            s(u, "state"),
            u.get("tools").unwrap_or(&Value::Null),
            u.get("restarts").unwrap_or(&Value::Null),
            s(u, "last_error")
        );
    }
    let agents = status.get("agents").and_then(Value::as_array).cloned().unwrap_or_default();
    let active = agents.iter().filter(|a| s(a, "state") == "active").count();
    println!("agents    {active} active, {} issued", agents.len());
    println!("approvals {} pending", status.get("pending_approvals").unwrap_or(&Value::Null));
}

fn agents(home: &Home, cmd: AgentsCommand) -> Result<()> {
    match cmd {
        AgentsCommand::Spawn { name, task, ttl, parent_token, tools, workspace, json } => {
            let options = ops::SpawnOptions {
                task: &task,
                ttl: ttl.map(Duration::from),
                parent_token: parent_token.as_deref(),
                tools,
                workspace,
            };
            let spawned = ops::spawn_agent(home, &name, options)?;
            if json {
                print_json(&spawned)?;
            } else {
                println!(
                    "agent {} ({})\ndepth {}{}\nexpires {}\ntoken {}",
                    spawned.id,
                    spawned.spiffe_id,
                    spawned.depth,
                    spawned
                        .tools
                        .as_ref()
                        .map(|t| format!(", tools {}", t.join(",")))
                        .unwrap_or_default(),
                    spawned.expires_at,
                    spawned.token
                );
            }
        }
        AgentsCommand::List { json } => {
            let list = ops::list_agents(home)?;
            if json {
                print_json(&list)?;
            } else {
                for a in list {
                    let r = &a.record;
                    let indent = "  ".repeat(usize::try_from(r.depth).unwrap_or(0));
                    let name = format!("{indent}{}{}", if r.depth > 0 { "└ " } else { "" }, r.name);
                    let state = match &a.because_of {
                        Some(ancestor) => format!("{} (by ancestor {ancestor})", a.state),
                        None => a.state.clone(),
                    };
                    let tools = r
                        .tools
                        .as_ref()
                        .map(|t| format!("  tools: {}", t.join(",")))
                        .unwrap_or_default();
                    println!(
                        "{}  {:<20} {:<8} expires {}  task: {}{tools}",
                        r.agent_id,
                        name,
                        state,
                        r.expires_at.to_rfc3339(),
                        ops::terminal_safe(&r.task)
                    );
                }
            }
        }
        AgentsCommand::Revoke { id } => {
            let (rec, descendants, live) = ops::revoke_agent(home, &id)?;
            let note = if live {
                "the running gateway refuses it now and cancelled its calls"
            } else {
                "no gateway is running"
            };
            let also = match descendants.len() {
                0 => String::new(),
                n => format!(" and its {n} descendant(s)"),
            };
            println!("revoked {} ({}){also}; {note}", rec.agent_id, rec.name);
        }
    }
    Ok(())
}

fn tools(home: &Home, cmd: ToolsCommand) -> Result<()> {
    match cmd {
        ToolsCommand::List { json } => {
            let rows = ops::tools_list(home)?;
            if json {
                print_json(&rows)?;
            } else {
                for r in rows {
                    let pin = r.pinned.as_deref().map(|p| p.get(..12).unwrap_or(p)).unwrap_or("-");
                    println!(
                        "{:<40} {:<12} pin {}  {}",
                        r.tool,
                        r.state,
                        pin,
                        r.reason.unwrap_or_default()
                    );
                }
            }
        }
        ToolsCommand::Accept { tool, by, json } => {
            let by = by.unwrap_or_else(warrant_identity::operator);
            let (accepted, live) = ops::tools_accept(home, &tool, &by)?;
            if json {
                print_json(&accepted)?;
            } else {
                print_difference(accepted.old.as_ref(), &accepted.new);
                let note = if live {
                    "the running gateway offers it now"
                } else {
                    "no gateway is running"
                };
                println!("accepted {} (pin {}); {note}", accepted.tool, accepted.sha256);
            }
        }
    }
    Ok(())
}

/// The fields of a tool definition that differ, old then new.
fn print_difference(old: Option<&Value>, new: &Value) {
    let Some(old) = old else {
        println!(
            "new tool, never pinned before:\n{}",
            serde_json::to_string_pretty(new).unwrap_or_default()
        );
        return;
    };
    let keys: std::collections::BTreeSet<&String> =
        old.as_object().into_iter().chain(new.as_object()).flat_map(|m| m.keys()).collect();
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a != b {
            let show =
                |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "(absent)".into());
            println!("{key}:\n  - {}\n  + {}", show(a), show(b));
        }
    }
}

fn policy(home: &Home, cmd: PolicyCommand) -> Result<()> {
    match cmd {
        PolicyCommand::Check { json } => {
            let (rules, warnings) = ops::check_policy(home)?;
            if json {
                print_json(&json!({"ok": true, "rules": rules, "warnings": warnings}))?;
            } else {
                println!("policy ok: {} rules ({})", rules.len(), rules.join(", "));
                for w in warnings {
                    println!("warning: {w}");
                }
            }
        }
        PolicyCommand::Suggest { agent } => print!("{}", ops::suggest(home, &agent)?),
        PolicyCommand::Explain { agent, tool, args, json } => {
            let arguments: Value =
                serde_json::from_str(&args).context("--args is not valid JSON")?;
            if !arguments.is_object() {
                bail!("--args must be a JSON object");
            }
            let report = ops::explain(home, &agent, &tool, &arguments)?;
            if json {
                print_json(&report)?;
            } else {
                println!("decision: {}", s(&report, "decision"));
                for r in report.get("rules").and_then(Value::as_array).into_iter().flatten() {
                    println!("  rule {}  {}", s(r, "id"), s(r, "ask").to_owned() + s(r, "reason"));
                }
                if let Some(reason) = report.get("reason").and_then(Value::as_str) {
                    println!("reason: {reason}");
                }
                println!(
                    "visible in tools/list: {}",
                    report.get("visible_in_tools_list").unwrap_or(&Value::Null)
                );
            }
        }
    }
    Ok(())
}

fn doctor(home: &Home, json: bool) -> Result<ExitCode> {
    // The home is optional here: without one (or with a broken config) the
    // checks use the defaults.
    let sandbox =
        warrant_state::Config::load(&home.config()).map(|c| c.sandbox).unwrap_or_default();
    let report = warrant_runner::doctor(&sandbox);
    if json {
        print_json(&report)?;
    } else {
        println!("What this host can enforce (Landlock ABI {}):", report.host.landlock_abi);
        for check in &report.host.checks {
            let name = serde_json::to_value(check.capability)?;
            let name = name.as_str().unwrap_or("?");
            if check.available {
                println!("  ok    {name:<24} {}", check.detail);
            } else {
                println!("  MISSING {name:<22} {}", check.detail);
                if let Some(how) = &check.how_to_enable {
                    println!("        to enable: {how}");
                }
            }
        }
        let keychain = &report.keychain;
        if keychain.available {
            println!("  ok    {:<24} {}", "os_keychain", keychain.detail);
        } else {
            println!("  MISSING {:<22} {}", "os_keychain", keychain.detail);
        }
        match &report.cgroup_parent {
            Some(parent) => println!(
                "Sandbox profiles, each started here with /bin/true (cgroups under {}):",
                parent.display()
            ),
            None => println!("Sandbox profiles, each started here with /bin/true:"),
        }
        for p in &report.profiles {
            if p.runs {
                let verified = p.controls.iter().filter(|(_, s)| s == "verified").count();
                let other: Vec<String> = p
                    .controls
                    .iter()
                    .filter(|(_, s)| s != "verified")
                    .map(|(c, s)| format!("{c} {s}"))
                    .collect();
                let note = if other.is_empty() {
                    String::new()
                } else {
                    format!("; {}", other.join(", "))
                };
                println!("  ok      {:<14} {verified} controls verified{note}", p.profile);
            } else {
                println!(
                    "  REFUSES {:<14} {}",
                    p.profile,
                    p.error.as_deref().unwrap_or("did not run")
                );
            }
        }
    }
    // Non-zero when a shipped profile cannot run here: what it needs is missing.
    Ok(if report.profiles.iter().all(|p| p.runs) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
