//! Credential leases: the record that an agent may use a vault credential,
//! for which hosts, until when.
//!
//! A lease starts at an agent's first allowed use of a credential and lasts
//! `vault.lease_ttl` (default five minutes). Every use is still decided by
//! policy; a use after the lease expired ends it and, if policy still allows,
//! starts a new one, so a long-running agent keeps working while each lease
//! stays short and every renewal is a fresh decision in the log. Leases end
//! early when the agent (or an agent above it) is killed or revoked, and
//! when the credential is rotated or removed.
//!
//! Leases live in `state.db` beside the agent registry, so the gateway, a
//! `warrant run` and the CLI see the same ones. No secret is stored here.

use rusqlite::{Connection, params};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use warrant_core::UnixMillis;

/// One lease, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub id: String,
    pub agent: String,
    pub credential: String,
    /// Where the credential may go under this lease: its bound hosts, or
    /// the upstream that receives it.
    pub hosts: Vec<String>,
    /// `upstream`, `http_request` or `egress`.
    pub via: String,
    pub started_at: String,
    pub expires_at: String,
    #[serde(skip)]
    pub expires_ms: i64,
    pub ended_at: Option<String>,
    /// `expired`, `killed`, `revoked`, `rotated`, `removed` or `run ended`.
    pub end_reason: Option<String>,
}

/// What [`LeaseStore::acquire`] did.
#[derive(Debug, Clone)]
pub struct Acquired {
    /// The live lease the use happens under.
    pub lease: Lease,
    /// Whether it was started by this use.
    pub started: bool,
    /// Leases of this agent and credential that had expired and were ended.
    pub expired: Vec<Lease>,
}

pub struct LeaseStore {
    conn: Connection,
}

const COLUMNS: &str =
    "id, agent, credential, hosts, via, started_ms, expires_ms, ended_ms, end_reason";

impl LeaseStore {
    pub fn open(state_db: &Path) -> Result<Self, rusqlite::Error> {
        let conn = crate::pins::open_state(
            state_db,
            "CREATE TABLE IF NOT EXISTS credential_leases (
                id TEXT PRIMARY KEY,
                agent TEXT NOT NULL,
                credential TEXT NOT NULL,
                hosts TEXT NOT NULL,
                via TEXT NOT NULL,
                started_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                ended_ms INTEGER,
                end_reason TEXT
            );
            CREATE INDEX IF NOT EXISTS credential_leases_live
                ON credential_leases (agent, credential) WHERE ended_ms IS NULL;",
        )?;
        Ok(Self { conn })
    }

    /// The live lease of `agent` on `credential` for `via`, started now if
    /// there is none. An expired one is ended first (and returned in
    /// [`Acquired::expired`]).
    pub fn acquire(
        &mut self,
        agent: &str,
        credential: &str,
        hosts: &[String],
        via: &str,
        ttl: Duration,
        now: UnixMillis,
    ) -> Result<Acquired, rusqlite::Error> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let open: Vec<Lease> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM credential_leases
                 WHERE agent = ?1 AND credential = ?2 AND via = ?3 AND ended_ms IS NULL"
            ))?;
            stmt.query_map(params![agent, credential, via], row)?.collect::<Result<_, _>>()?
        };
        let now_ms = now.0;
        let mut expired = Vec::new();
        let mut live = None;
        for lease in open {
            if lease.expires_ms > now_ms && lease.hosts == hosts && live.is_none() {
                live = Some(lease);
            } else {
                tx.execute(
                    "UPDATE credential_leases SET ended_ms = ?1, end_reason = 'expired' WHERE id = ?2",
                    params![now_ms, lease.id],
                )?;
                expired.push(ended(lease, now, "expired"));
            }
        }
        let (lease, started) = match live {
            Some(lease) => (lease, false),
            None => {
                let id = format!("lease-{}", uuid_like());
                let expires = now.plus(ttl);
                tx.execute(
                    "INSERT INTO credential_leases (id, agent, credential, hosts, via, started_ms, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        agent,
                        credential,
                        serde_json::to_string(hosts).unwrap_or_default(),
                        via,
                        now_ms,
                        expires.0
                    ],
                )?;
                let lease = Lease {
                    id,
                    agent: agent.to_owned(),
                    credential: credential.to_owned(),
                    hosts: hosts.to_vec(),
                    via: via.to_owned(),
                    started_at: now.to_rfc3339(),
                    expires_at: expires.to_rfc3339(),
                    expires_ms: expires.0,
                    ended_at: None,
                    end_reason: None,
                };
                (lease, true)
            }
        };
        tx.commit()?;
        Ok(Acquired { lease, started, expired })
    }

    /// Ends every live lease held by one of `agents`.
    pub fn end_for_agents(
        &mut self,
        agents: &[String],
        reason: &str,
        now: UnixMillis,
    ) -> Result<Vec<Lease>, rusqlite::Error> {
        let mut ended_all = Vec::new();
        for agent in agents {
            ended_all.extend(self.end_where("agent = ?1", agent, reason, now)?);
        }
        Ok(ended_all)
    }

    /// Ends every live lease on `credential`.
    pub fn end_for_credential(
        &mut self,
        credential: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<Vec<Lease>, rusqlite::Error> {
        self.end_where("credential = ?1", credential, reason, now)
    }

    fn end_where(
        &mut self,
        condition: &str,
        value: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<Vec<Lease>, rusqlite::Error> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let live: Vec<Lease> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM credential_leases WHERE {condition} AND ended_ms IS NULL"
            ))?;
            stmt.query_map(params![value], row)?.collect::<Result<_, _>>()?
        };
        tx.execute(
            &format!(
                "UPDATE credential_leases SET ended_ms = ?2, end_reason = ?3
                 WHERE {condition} AND ended_ms IS NULL"
            ),
            params![value, now.0, reason],
        )?;
        tx.commit()?;
        Ok(live.into_iter().map(|l| ended(l, now, reason)).collect())
    }

    /// Leases live at `now`, oldest first; with `all`, ended ones too (the
    /// most recent 1000).
    pub fn list(&self, all: bool, now: UnixMillis) -> Result<Vec<Lease>, rusqlite::Error> {
        let sql = if all {
            format!(
                "SELECT {COLUMNS} FROM (SELECT * FROM credential_leases ORDER BY started_ms DESC LIMIT 1000) ORDER BY started_ms"
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM credential_leases WHERE ended_ms IS NULL AND expires_ms > {} ORDER BY started_ms",
                now.0
            )
        };
        let mut stmt = self.conn.prepare(&sql)?;
        stmt.query_map([], row)?.collect()
    }
}

fn row(r: &rusqlite::Row<'_>) -> Result<Lease, rusqlite::Error> {
    let hosts: String = r.get(3)?;
    let started: i64 = r.get(5)?;
    let expires: i64 = r.get(6)?;
    let ended_ms: Option<i64> = r.get(7)?;
    Ok(Lease {
        id: r.get(0)?,
        agent: r.get(1)?,
        credential: r.get(2)?,
        hosts: serde_json::from_str(&hosts).unwrap_or_default(),
        via: r.get(4)?,
        started_at: UnixMillis(started).to_rfc3339(),
        expires_at: UnixMillis(expires).to_rfc3339(),
        expires_ms: expires,
        ended_at: ended_ms.map(|ms| UnixMillis(ms).to_rfc3339()),
        end_reason: r.get(8)?,
    })
}

fn ended(mut lease: Lease, now: UnixMillis, reason: &str) -> Lease {
    lease.ended_at = Some(now.to_rfc3339());
    lease.end_reason = Some(reason.to_owned());
    lease
}

/// 128 random bits as hex: lease ids are not secrets, only unique.
fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough without randomness: the clock and a counter.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return format!("{:x}-{n:x}", UnixMillis::now().0);
    }
    hex::encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    use rusqlite::OptionalExtension;

    impl LeaseStore {
        /// Whether lease `id` is still live at `now`.
        pub fn is_live(&self, id: &str, now: UnixMillis) -> Result<bool, rusqlite::Error> {
            let found: Option<i64> = self
                .conn
                .query_row(
                    "SELECT expires_ms FROM credential_leases WHERE id = ?1 AND ended_ms IS NULL",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(found.is_some_and(|expires| expires > now.0))
        }
    }

    fn store() -> (tempfile::TempDir, LeaseStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LeaseStore::open(&dir.path().join("state.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_lease_is_reused_until_it_expires_then_renewed() {
        let (_dir, mut s) = store();
        let hosts = vec!["api.github.com".to_owned()];
        let t0 = UnixMillis(1_000_000);
        let ttl = Duration::from_secs(300);
        let first = s.acquire("a1", "github", &hosts, "egress", ttl, t0).unwrap();
        assert!(first.started && first.expired.is_empty());
        let again =
            s.acquire("a1", "github", &hosts, "egress", ttl, t0.plus(Duration::from_secs(10)));
        let again = again.unwrap();
        assert!(!again.started);
        assert_eq!(again.lease.id, first.lease.id);
        assert!(s.is_live(&first.lease.id, t0.plus(Duration::from_secs(299))).unwrap());
        assert!(!s.is_live(&first.lease.id, t0.plus(ttl)).unwrap());
        let later = s.acquire("a1", "github", &hosts, "egress", ttl, t0.plus(ttl)).unwrap();
        assert!(later.started);
        assert_ne!(later.lease.id, first.lease.id);
        assert_eq!(later.expired.len(), 1);
        assert_eq!(later.expired[0].end_reason.as_deref(), Some("expired"));
        // Another agent gets its own lease.
        let other = s.acquire("a2", "github", &hosts, "egress", ttl, t0).unwrap();
        assert!(other.started);
    }

    #[test]
    fn kills_and_rotations_end_leases() {
        let (_dir, mut s) = store();
        let now = UnixMillis(5_000_000);
        let ttl = Duration::from_secs(300);
        let h = vec!["h".to_owned()];
        let a = s.acquire("a1", "github", &h, "egress", ttl, now).unwrap().lease;
        let b = s.acquire("a2", "github", &h, "egress", ttl, now).unwrap().lease;
        let c = s.acquire("a2", "npm", &h, "egress", ttl, now).unwrap().lease;
        let killed = s.end_for_agents(&["a1".to_owned()], "killed", now).unwrap();
        assert_eq!(killed.iter().map(|l| &l.id).collect::<Vec<_>>(), [&a.id]);
        assert!(!s.is_live(&a.id, now).unwrap());
        let rotated = s.end_for_credential("github", "rotated", now).unwrap();
        assert_eq!(rotated.iter().map(|l| &l.id).collect::<Vec<_>>(), [&b.id]);
        assert!(s.is_live(&c.id, now).unwrap());
        assert_eq!(s.list(false, now).unwrap().len(), 1);
        let all = s.list(true, now).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all.iter().filter(|l| l.end_reason.as_deref() == Some("killed")).count(), 1);
    }
}
