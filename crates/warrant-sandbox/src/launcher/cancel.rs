//! The caller's handle on a launch in flight: fired from any thread (a drop
//! guard in async code, a shutdown), it wakes the blocked [`Launcher::run`],
//! which asks the helper to kill that launch's sandbox.
//!
//! [`Launcher::run`]: super::Launcher::run

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Cancels the [`Launcher::run`](super::Launcher::run) calls it is given:
/// the one in flight is woken and its sandbox killed by the helper, and
/// one started after it fired launches nothing. Clones share one state;
/// once fired it stays fired.
#[derive(Clone, Debug, Default)]
pub struct CancelLaunch(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    fired: bool,
    /// The call waiting, told once.
    waiting: Option<Sender<super::client::Event>>,
}

impl CancelLaunch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels; does not wait for the sandbox to be gone (the call does).
    pub fn cancel(&self) {
        let mut state = self.state();
        state.fired = true;
        if let Some(waiting) = state.waiting.take() {
            let _ = waiting.send(super::client::Event::Cancel);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.state().fired
    }

    /// Registers the call to wake; false (and nothing kept) if already fired.
    pub(super) fn watch(&self, waiting: Sender<super::client::Event>) -> bool {
        let mut state = self.state();
        if !state.fired {
            state.waiting = Some(waiting);
        }
        !state.fired
    }

    /// The call no longer waits.
    pub(super) fn unwatch(&self) {
        self.state().waiting = None;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
