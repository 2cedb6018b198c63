//! Launching sandboxes from a helper process, so that no sandbox starts as a
//! copy of a process that holds secrets (Firecracker's jailer is the model).
//!
//! A sandbox's init begins as a fork of its launcher: whatever the launcher
//! holds in memory (a gateway's root key, audit key, unlocked vault) is in
//! init's copy too. [`Launcher`] instead starts a small helper by `exec`
//! (a fresh image, never a fork that keeps running the caller's code), before
//! or after the caller loads its secrets, and asks it to launch each command.
//!
//! - **Who can talk to the helper:** only the holder of the other end of a
//!   socketpair made at start; the helper's end is its stdin. There is no
//!   path in the file system, no listening socket, no inherited descriptor
//!   besides stdio (the helper closes every other one first).
//! - **What it can be asked:** two things: to launch a command with a
//!   [`LaunchRequest`] (spec, argv, environment, output cap) and answer its
//!   [`Output`](crate::Output) or why the sandbox refused it; and to cancel
//!   a launch it is running, by id (its sandbox's init is killed, which
//!   kills the whole tree, and the launch is answered `cancelled`; an id
//!   not running is ignored, since it may have just ended). Frames are
//!   length-prefixed JSON with a size cap and an id; unknown fields, unknown
//!   frames, oversized or malformed frames are answered with a rejection and
//!   nothing from them runs. Each accepted request runs on its own thread,
//!   at most [`ServeOptions::max_concurrent`] at once; beyond that the helper
//!   answers busy.
//! - **Its lifetime:** it exits when its socket closes (the caller exited or
//!   died), and its sandboxes die with it (each init has a parent-death
//!   signal). If it dies, the next [`Launcher::run`] starts a new one, after
//!   a growing pause when helpers keep dying without answering. A call in
//!   flight fails with [`LauncherError::HelperDied`], which says whether the
//!   command may have run. There is no fallback to launching in-process.
//! - **Its environment:** only `HOME` (for the sandbox's private home and
//!   the protected stores beneath it) and what [`HelperCommand::env`] adds.
//!   The command's environment comes with each request, filtered by the
//!   profile's allowlist before it leaves the caller.
//! - It holds the namespace pool ([`crate::enable_namespace_pool`]), enabled
//!   at its first request.
//!
//! What it does not do: it adds no privilege and no policy. It runs whatever
//! spec it is sent, so a compromised caller can ask for any sandbox it could
//! have launched itself; the helper only keeps the caller's memory out of the
//! sandbox. [`Launcher::run`] blocks (call it from a blocking thread, e.g.
//! tokio's `spawn_blocking`) and has no timeout of its own beyond the
//! profile's wall clock, the sandbox's setup timeout and its
//! [`CancelLaunch`]; [`Launcher::close`] ends every launch at once. A cancel
//! that arrives while the sandbox is being set up takes effect once it is
//! (within the setup timeout; setup takes milliseconds).

mod cancel;
mod client;
mod serve;
mod wire;

use std::io;
use std::path::PathBuf;

use crate::report::Control;

pub use cancel::CancelLaunch;
pub use client::{HelperCommand, Launcher};
pub use serve::{ServeOptions, serve, serve_stdin};
pub use wire::{LaunchRequest, MAX_OUTPUT_LIMIT, MAX_REQUEST, Rejection};
pub(crate) use wire::{WireOutput, WireSpec};

/// Why [`Launcher::run`] or [`Launcher::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    /// The sandbox refused the command (a required control could not be
    /// applied, a bad path, a missing program...): it did not run.
    #[error("{message}")]
    Refused { control: Option<Control>, message: String },
    #[error(
        "the sandbox helper died ({cause}); {}",
        if *may_have_run { "the command may have run" } else { "the command was not run" }
    )]
    HelperDied { may_have_run: bool, cause: String },
    /// The call's [`CancelLaunch`] fired: the helper killed the sandbox (or
    /// the command had just ended), or nothing was sent.
    #[error(
        "the launch was cancelled; {}",
        if *may_have_run { "its sandbox was killed" } else { "the command was not run" }
    )]
    Cancelled { may_have_run: bool },
    /// [`Launcher::close`] was called: the helper and its sandboxes are gone.
    #[error("the sandbox launcher was closed; its sandboxes were killed")]
    Closed,
    #[error("the sandbox helper rejected the request: {0}")]
    Rejected(Rejection),
    #[error("cannot start the sandbox helper `{program}`: {source}")]
    Start { program: PathBuf, source: io::Error },
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("the request is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

impl LauncherError {
    /// The control a refusal is about, if any (as [`crate::LaunchError::control`]).
    pub fn control(&self) -> Option<Control> {
        match self {
            LauncherError::Refused { control, .. } => *control,
            _ => None,
        }
    }
}
