//! Group commit without a thread hop: leader and followers.
//!
//! The first appender to arrive while nobody is committing becomes the
//! leader: it commits its own record, plus every record queued since the
//! last hand-over, in one transaction on its own thread, answers the
//! followers, and hands the leadership to the next queued appender (or
//! releases it when nobody waits). Appenders that arrive during a commit
//! queue and wait. At low concurrency every append is one commit on the
//! caller's thread; under load, commits grow into batches by themselves, and
//! no append depends on another thread being scheduled.
//!
//! A record nobody waits for (a call's result, see
//! `AuditLog::append_queued`) joins the group being committed if there is
//! one; otherwise it lingers until the next group, which writes it first
//! (it is older than that group's own records), or until the writer thread
//! writes it, [`LINGER`] later. So under load, a call's result shares the
//! transaction of the next call's decision instead of paying for its own.

use crate::event::{AuditEvent, RecordRef};
use crate::log::AuditError;
use crate::writer::{Reply, Writer, lock as lock_writer};
use std::collections::VecDeque;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// The longest a record nobody waits for stays unwritten when no group
/// comes to take it.
pub(crate) const LINGER: Duration = Duration::from_millis(10);

/// What a waiting appender is told.
pub(crate) enum Turn {
    /// Its record was committed (or refused).
    Done(Result<RecordRef, AuditError>),
    /// It leads now, with its record back.
    Lead(AuditEvent),
}

/// Where a waiting appender listens.
pub(crate) enum Waiter {
    Async(oneshot::Sender<Turn>),
    Blocking(SyncSender<Turn>),
    /// Nobody: the record was queued and its appender went on.
    Nobody,
}

impl Waiter {
    /// Hands `turn` over; gives it back if nobody (any more) waits for it.
    fn send(self, turn: Turn) -> Result<(), Turn> {
        match self {
            Waiter::Async(sender) => sender.send(turn),
            Waiter::Blocking(sender) => sender.send(turn).map_err(|e| e.0),
            Waiter::Nobody => Err(turn),
        }
    }
}

struct Queue {
    open: bool,
    committing: bool,
    waiting: VecDeque<(AuditEvent, Waiter)>,
    /// Records nobody waits for, queued while nobody was committing.
    lingering: Vec<AuditEvent>,
    /// The writer thread was asked to write `lingering` and has not yet.
    flush_asked: bool,
}

pub(crate) struct Group {
    queue: Mutex<Queue>,
    writer: Arc<Mutex<Writer>>,
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Group {
    pub(crate) fn new(writer: Arc<Mutex<Writer>>) -> Self {
        let queue = Queue {
            open: true,
            committing: false,
            waiting: VecDeque::new(),
            lingering: Vec::new(),
            flush_asked: false,
        };
        Self { queue: Mutex::new(queue), writer }
    }

    /// Either makes the caller the leader (its event comes back) or queues
    /// the event with `waiter` (`None`).
    pub(crate) fn enter(
        &self,
        event: AuditEvent,
        waiter: Waiter,
    ) -> Result<Option<AuditEvent>, AuditError> {
        let mut queue = lock(&self.queue);
        if !queue.open {
            return Err(AuditError::Closed);
        }
        if queue.committing {
            queue.waiting.push_back((event, waiter));
            Ok(None)
        } else {
            queue.committing = true;
            Ok(Some(event))
        }
    }

    /// Queues `event` for nobody to wait on: into the group being committed,
    /// or to linger until the next. Whether the writer thread must be asked
    /// to write what lingers (it has not been asked since it last did).
    pub(crate) fn queue(&self, event: AuditEvent) -> Result<bool, AuditError> {
        let mut queue = lock(&self.queue);
        if !queue.open {
            return Err(AuditError::Closed);
        }
        if queue.committing {
            queue.waiting.push_back((event, Waiter::Nobody));
            return Ok(false);
        }
        queue.lingering.push(event);
        Ok(!std::mem::replace(&mut queue.flush_asked, true))
    }

    /// Writes what lingers, unless a group is being committed (which takes
    /// it) or nothing does.
    pub(crate) fn flush(&self) {
        {
            let mut queue = lock(&self.queue);
            queue.flush_asked = false;
            if queue.committing || queue.lingering.is_empty() {
                return;
            }
            queue.committing = true;
        }
        self.lead_group(None);
    }

    /// Leads one group: commits `own` with everything queued, answers the
    /// followers, hands over. Returns the result for `own`.
    pub(crate) fn lead(&self, own: AuditEvent) -> Result<RecordRef, AuditError> {
        self.lead_group(Some(own)).unwrap_or(Err(AuditError::WriterGone))
    }

    fn lead_group(&self, own: Option<AuditEvent>) -> Option<Result<RecordRef, AuditError>> {
        let result = self.commit_group(own);
        loop {
            let next = {
                let mut queue = lock(&self.queue);
                match queue.waiting.pop_front() {
                    Some(next) => next,
                    None => {
                        queue.committing = false;
                        break;
                    }
                }
            };
            let (event, waiter) = next;
            match waiter.send(Turn::Lead(event)) {
                Ok(()) => break,
                // Its appender is gone; its record is still written (dropping
                // an append does not withdraw it), by this leader.
                Err(Turn::Lead(event)) => {
                    let _ = self.commit_group(Some(event));
                }
                Err(Turn::Done(_)) => {}
            }
        }
        result
    }

    /// Commits what lingers, then `own`, then every follower, in that
    /// order (the order they came in), in one transaction. Returns the
    /// result for `own`.
    fn commit_group(&self, own: Option<AuditEvent>) -> Option<Result<RecordRef, AuditError>> {
        let (lingering, followers): (Vec<AuditEvent>, Vec<(AuditEvent, Waiter)>) = {
            let mut queue = lock(&self.queue);
            (std::mem::take(&mut queue.lingering), queue.waiting.drain(..).collect())
        };
        let mut batch = Vec::with_capacity(lingering.len() + followers.len() + 1);
        for event in lingering {
            let (reply, _) = sync_channel(1);
            batch.push((event, Reply(reply)));
        }
        let own_answer = own.map(|event| {
            let (reply, answer) = sync_channel(1);
            batch.push((event, Reply(reply)));
            answer
        });
        let mut answers = Vec::with_capacity(followers.len());
        for (event, waiter) in followers {
            let (reply, answer) = sync_channel(1);
            batch.push((event, Reply(reply)));
            answers.push((answer, waiter));
        }
        {
            let mut writer = lock_writer(&self.writer);
            if writer.closed {
                drop(writer);
                for (_, waiter) in answers {
                    let _ = waiter.send(Turn::Done(Err(AuditError::Closed)));
                }
                return own_answer.map(|_| Err(AuditError::Closed));
            }
            writer.commit(batch);
        }
        for (answer, waiter) in answers {
            let result = answer.try_recv().unwrap_or(Err(AuditError::WriterGone));
            // A follower that stopped waiting does not need its answer.
            let _ = waiter.send(Turn::Done(result));
        }
        own_answer.map(|answer| answer.try_recv().unwrap_or(Err(AuditError::WriterGone)))
    }

    /// Refuses new appends and waits until queued ones, lingering ones
    /// included, are written.
    pub(crate) fn shut(&self) {
        lock(&self.queue).open = false;
        loop {
            {
                let queue = lock(&self.queue);
                if !queue.committing && queue.waiting.is_empty() {
                    if queue.lingering.is_empty() {
                        return;
                    }
                    drop(queue);
                    self.flush();
                    continue;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
