//! `warrant`: the command-line shell. It parses flags, resolves the home,
//! calls one library function per subcommand, prints, and maps errors to an
//! exit status with a one-line reason on stderr.

mod cli;
mod vault;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
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
            // One line: the cause chain joined, as scripts expect.
            let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("warrant: {}", chain.join(": ").replace('\n', " "));
            ExitCode::from(1)
        }
    }
}
