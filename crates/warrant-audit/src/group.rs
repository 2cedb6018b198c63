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

use crate::event::{AuditEvent, RecordRef};
use crate::log::AuditError;
use crate::writer::{Reply, Writer, lock as lock_writer};
use std::collections::VecDeque;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

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
}

impl Waiter {
    /// Hands `turn` over; gives it back if the appender stopped waiting.
    fn send(self, turn: Turn) -> Result<(), Turn> {
        match self {
            Waiter::Async(sender) => sender.send(turn),
            Waiter::Blocking(sender) => sender.send(turn).map_err(|e| e.0),
        }
    }
}

struct Queue {
    open: bool,
    committing: bool,
    waiting: VecDeque<(AuditEvent, Waiter)>,
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
        let queue = Queue { open: true, committing: false, waiting: VecDeque::new() };
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

    /// Leads one group: commits `own` with everything queued, answers the
    /// followers, hands over. Returns the result for `own`.
    pub(crate) fn lead(&self, own: AuditEvent) -> Result<RecordRef, AuditError> {
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
                    let _ = self.commit_group(event);
                }
                Err(Turn::Done(_)) => {}
            }
        }
        result
    }

    fn commit_group(&self, own: AuditEvent) -> Result<RecordRef, AuditError> {
        let followers: Vec<(AuditEvent, Waiter)> = lock(&self.queue).waiting.drain(..).collect();
        let (own_reply, own_answer) = sync_channel(1);
        let mut batch = Vec::with_capacity(followers.len() + 1);
        let mut answers = Vec::with_capacity(followers.len());
        batch.push((own, Reply(own_reply)));
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
                return Err(AuditError::Closed);
            }
            writer.commit(batch);
        }
        for (answer, waiter) in answers {
            let result = answer.try_recv().unwrap_or(Err(AuditError::WriterGone));
            // A follower that stopped waiting does not need its answer.
            let _ = waiter.send(Turn::Done(result));
        }
        own_answer.try_recv().unwrap_or(Err(AuditError::WriterGone))
    }

    /// Refuses new appends and waits until queued ones are written.
    pub(crate) fn shut(&self) {
        lock(&self.queue).open = false;
        loop {
            {
                let queue = lock(&self.queue);
                if !queue.committing && queue.waiting.is_empty() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
