//! `warrant`: the command-line shell. It parses flags, resolves the home,
//! calls one library function per subcommand, prints, and maps errors to an
//! exit status with a one-line reason on stderr.

mod audit;
mod bridge;
mod cli;
mod ops;
mod shown;
mod vault;
mod vault_ops;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `warrant up` starts this binary again as its sandbox helper before it
    // loads any key: a fresh image that only launches sandboxes.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(warrant_gateway::SANDBOX_HELPER_ARG))
    {
        return warrant_sandbox::serve_stdin(warrant_sandbox::ServeOptions::default());
    }
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARRANT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("warrant: {}", one_line(&error));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, as scripts expect. A cause whose
/// text its error already shows (an error that prints its source and also
/// chains it) is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    warrant_core::text::with_causes(error.as_ref())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    #[test]
    fn a_cause_already_in_its_errors_text_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let error = anyhow::Error::new(io)
            .context("cannot listen on `127.0.0.1:1`: Address already in use");
        assert_eq!(
            super::one_line(&error),
            "cannot listen on `127.0.0.1:1`: Address already in use"
        );
        let fresh = anyhow::anyhow!("disk full").context("cannot write\nthe log");
        assert_eq!(super::one_line(&fresh), "cannot write the log: disk full");
    }

    #[test]
    fn an_operations_error_shows_each_of_its_causes_once() {
        // The agent registry cannot be opened (a directory sits where its
        // file should be): the operation's error, the identity error, and
        // SQLite's reason, each once.
        let dir = tempfile::tempdir().unwrap();
        let home = warrant_state::Home::new(dir.path().join("home"));
        home.init().unwrap();
        std::fs::remove_file(home.state_db()).unwrap();
        std::fs::create_dir(home.state_db()).unwrap();
        let Err(sqlite) = rusqlite::Connection::open(home.state_db()) else {
            panic!("SQLite opened a directory");
        };

        let Err(error) = crate::ops::list_agents(&home) else {
            panic!("agents were listed without a registry");
        };
        // SQLite's error has a cause of its own (its result code).
        let code = std::error::Error::source(&sqlite).map(|c| format!(": {c}")).unwrap_or_default();
        let path = home.state_db().display().to_string();
        assert_eq!(
            super::one_line(&anyhow::Error::new(error)),
            format!("identity: cannot open the agent registry at `{path}`: {sqlite}{code}")
        );
    }
}
