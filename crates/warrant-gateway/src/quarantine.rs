//! Automatic quarantine: an agent that collects too many denials in a short
//! window is stopped as if the operator had run `warrant kill`, with an audit
//! record and an alert in `warrant status`. A burst of denials is what a
//! confused or hijacked agent probing its limits looks like; a person decides
//! whether to `warrant resume` it.

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use warrant_core::{AgentId, UnixMillis};

/// Who the registry and the audit log name as the killer.
pub const QUARANTINE_ACTOR: &str = "warrant:auto-quarantine";

/// An alert for the operator.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub time: String,
    pub agent_id: String,
    pub reason: String,
}

/// Denials per agent within a sliding window.
pub struct DenialWindow {
    limit: usize,
    window: Duration,
    seen: Mutex<HashMap<AgentId, VecDeque<Instant>>>,
    alerts: Mutex<Vec<Alert>>,
}

impl DenialWindow {
    /// `limit` 0 turns automatic quarantine off.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self { limit, window, seen: Mutex::new(HashMap::new()), alerts: Mutex::new(Vec::new()) }
    }

    /// Counts one denial of `agent` at `now`; `Some(reason)` when this one
    /// crosses the limit (once per crossing: the window starts over).
    pub fn deny(&self, agent: AgentId, now: Instant) -> Option<String> {
        if self.limit == 0 {
            return None;
        }
        let Ok(mut seen) = self.seen.lock() else { return None };
        let times = seen.entry(agent).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now.duration_since(*t) > self.window) {
            times.pop_front();
        }
        if times.len() < self.limit {
            return None;
        }
        times.clear();
        let reason = format!("{} denials within {} s", self.limit, self.window.as_secs());
        if let Ok(mut alerts) = self.alerts.lock() {
            alerts.push(Alert {
                time: UnixMillis::now().to_rfc3339(),
                agent_id: agent.to_string(),
                reason: reason.clone(),
            });
        }
        Some(reason)
    }

    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_within_the_window_trips_once() {
        let w = DenialWindow::new(3, Duration::from_secs(60));
        let agent = AgentId::random();
        let t = Instant::now();
        assert_eq!(w.deny(agent, t), None);
        assert_eq!(w.deny(agent, t + Duration::from_secs(1)), None);
        assert!(w.deny(agent, t + Duration::from_secs(2)).is_some());
        assert_eq!(w.deny(agent, t + Duration::from_secs(3)), None, "the window starts over");
        assert_eq!(w.alerts().len(), 1);
        assert_eq!(w.deny(AgentId::random(), t), None, "agents are counted apart");
    }

    #[test]
    fn denials_spread_beyond_the_window_do_not_trip_and_zero_is_off() {
        let w = DenialWindow::new(2, Duration::from_secs(10));
        let agent = AgentId::random();
        let t = Instant::now();
        assert_eq!(w.deny(agent, t), None);
        assert_eq!(w.deny(agent, t + Duration::from_secs(11)), None);
        let off = DenialWindow::new(0, Duration::from_secs(10));
        assert!((0..100).all(|_| off.deny(agent, t).is_none()));
    }
}
