//! Rate limiting of authentication failures per source address, so a client
//! hammering `/mcp` with bad credentials cannot flood the audit log (each
//! failure is otherwise one record). Valid credentials are never throttled:
//! on loopback every local process shares a source address, and an attacker
//! must not be able to lock real agents out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per source within one window.
const LIMIT: u32 = 20;
const WINDOW: Duration = Duration::from_secs(10);
/// Sources tracked at once; past this the table starts over.
const MAX_SOURCES: usize = 4096;

/// What to do with one more failure.
#[derive(Debug, PartialEq, Eq)]
pub enum Throttle {
    /// Answer and audit as usual.
    Allow,
    /// The first failure over the limit in this window: audit that the
    /// source is being throttled, answer 429.
    FirstRefusal,
    /// Answer 429 without an audit record.
    Refuse,
}

#[derive(Default)]
pub struct AuthFailures {
    sources: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl AuthFailures {
    pub fn fail(&self, source: Option<IpAddr>, now: Instant) -> Throttle {
        let Ok(mut sources) = self.sources.lock() else { return Throttle::Refuse };
        if sources.len() >= MAX_SOURCES && !sources.contains_key(&source) {
            sources.clear();
        }
        let entry = sources.entry(source).or_insert((now, 0));
        if now.duration_since(entry.0) > WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        match entry.1 {
            n if n <= LIMIT => Throttle::Allow,
            n if n == LIMIT + 1 => Throttle::FirstRefusal,
            _ => Throttle::Refuse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_are_refused_and_reported_once_per_window() {
        let f = AuthFailures::default();
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let t = Instant::now();
        assert!((0..LIMIT).all(|_| f.fail(ip, t) == Throttle::Allow));
        assert_eq!(f.fail(ip, t), Throttle::FirstRefusal);
        assert_eq!(f.fail(ip, t), Throttle::Refuse);
        assert_eq!(f.fail(Some(IpAddr::from([127, 0, 0, 2])), t), Throttle::Allow);
        assert_eq!(f.fail(ip, t + WINDOW + Duration::from_millis(1)), Throttle::Allow);
    }
}
