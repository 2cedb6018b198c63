//! The registry of issued agents and their revocations, in SQLite.
//!
//! Two processes use it at once: the CLI writes (`warrant spawn`, `warrant
//! kill`) while a running gateway reads. WAL mode lets readers proceed during
//! a write, and a busy timeout makes a writer wait for another instead of
//! failing. The schema is versioned by a format string in a `meta` table; a
//! registry of another format is refused rather than misread.

use crate::IdentityError;
use crate::issue::Claims;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;
use std::collections::HashSet;
use std::fs::{OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use warrant_core::{AgentId, AgentName, UnixMillis};

const FORMAT: &str = "warrant-agent-registry-v3";
/// Earlier formats, upgraded in place when opened: v1 had no child agents
/// (parent, tool list), v2 no workspaces.
const UPGRADABLE: [&str; 2] = ["warrant-agent-registry-v1", "warrant-agent-registry-v2"];
/// Columns added since v1, with their types.
const ADDED_COLUMNS: [(&str, &str); 3] =
    [("parent_id", "TEXT"), ("tools", "TEXT"), ("workspace", "TEXT")];
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const COLUMNS: &str = "agent_id, name, spiffe_id, task, spawned_by, depth, issued_at, expires_at, \
     revoked_at, parent_id, tools";

/// One issued agent as the registry knows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgentRecord {
    pub agent_id: AgentId,
    pub name: AgentName,
    pub spiffe_id: String,
    pub task: String,
    pub spawned_by: String,
    pub depth: u32,
    pub issued_at: UnixMillis,
    pub expires_at: UnixMillis,
    /// When the agent was revoked; revocation is permanent.
    pub revoked_at: Option<UnixMillis>,
    /// The agent that spawned it, for a child agent.
    pub parent_id: Option<AgentId>,
    /// The tools it may call at most, when its delegation narrowed them.
    pub tools: Option<Vec<String>>,
}

impl AgentRecord {
    /// `revoked`, `expired` (at `now`) or `active`.
    pub fn state(&self, now: UnixMillis) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "active"
        }
    }
}

/// The kill-table key that stands for every agent.
const ALL_AGENTS: &str = "*";

/// What `warrant kill` stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillTarget {
    All,
    Agent(AgentId),
}

impl KillTarget {
    fn key(&self) -> String {
        match self {
            KillTarget::All => ALL_AGENTS.to_owned(),
            KillTarget::Agent(id) => id.to_string(),
        }
    }
}

/// The agents stopped by the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillSet {
    /// `warrant kill --all` is in force.
    pub all: bool,
    pub agents: HashSet<AgentId>,
}

impl KillSet {
    /// Whether `id` is stopped.
    pub fn covers(&self, id: &AgentId) -> bool {
        self.all || self.agents.contains(id)
    }
}

/// A handle on the registry file. `Send + Sync`; calls are serialized.
pub struct Registry {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Registry {
    /// Opens the registry at `path`, creating it (mode 0600) and its schema if
    /// needed.
    pub fn open(path: &Path) -> Result<Self, IdentityError> {
        create_private(path)
            .map_err(|source| IdentityError::RegistryFile { path: path.to_owned(), source })?;
        let error = |operation: &'static str| {
            move |source| IdentityError::Registry { operation, path: path.to_owned(), source }
        };

        let mut conn = Connection::open(path).map_err(error("open"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(error("open"))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(error("open"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(IdentityError::RegistryNotWal { path: path.to_owned(), mode });
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(error("open"))?;

        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(error("set up"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (
                 key TEXT PRIMARY KEY NOT NULL,
                 value TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS agents (
                 agent_id TEXT PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL,
                 spiffe_id TEXT NOT NULL,
                 task TEXT NOT NULL,
                 spawned_by TEXT NOT NULL,
                 depth INTEGER NOT NULL,
                 issued_at INTEGER NOT NULL,
                 expires_at INTEGER NOT NULL,
                 revoked_at INTEGER,
                 parent_id TEXT,
                 tools TEXT,
                 workspace TEXT
             );
             CREATE TABLE IF NOT EXISTS kills (
                 target TEXT PRIMARY KEY NOT NULL,
                 killed_at INTEGER NOT NULL,
                 killed_by TEXT NOT NULL
             );",
        )
        .map_err(error("set up"))?;
        tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?1)", [FORMAT])
            .map_err(error("set up"))?;
        let mut found: String = tx
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0))
            .map_err(error("set up"))?;
        if UPGRADABLE.contains(&found.as_str()) {
            // Rows of older registries are root agents without a workspace.
            let existing: Vec<String> = {
                let mut stmt = tx
                    .prepare("SELECT name FROM pragma_table_info('agents')")
                    .map_err(error("upgrade"))?;
                stmt.query_map([], |row| row.get::<_, String>(0))
                    .map_err(error("upgrade"))?
                    .collect::<Result<_, _>>()
                    .map_err(error("upgrade"))?
            };
            for (column, ty) in ADDED_COLUMNS {
                if !existing.iter().any(|c| c == column) {
                    tx.execute_batch(&format!("ALTER TABLE agents ADD COLUMN {column} {ty};"))
                        .map_err(error("upgrade"))?;
                }
            }
            tx.execute("UPDATE meta SET value = ?1 WHERE key = 'format'", [FORMAT])
                .map_err(error("upgrade"))?;
            found = FORMAT.to_owned();
        }
        tx.commit().map_err(error("set up"))?;
        if found != FORMAT {
            return Err(IdentityError::RegistryFormat {
                path: path.to_owned(),
                found: crate::printable(&found),
                expected: FORMAT,
            });
        }
        Ok(Self { conn: Mutex::new(conn), path: path.to_owned() })
    }

    /// Records a newly issued agent. An id already recorded is an error.
    pub fn record_issued(&self, claims: &Claims) -> Result<(), IdentityError> {
        let conn = self.conn();
        let result = conn.execute(
            "INSERT INTO agents
                 (agent_id, name, spiffe_id, task, spawned_by, depth, issued_at, expires_at,
                  parent_id, tools)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                claims.agent_id.to_string(),
                claims.name.as_str(),
                claims.spiffe_id,
                claims.task,
                claims.spawned_by,
                claims.depth,
                claims.issued_at.0,
                claims.expires_at.0,
                claims.parent.map(|p| p.to_string()),
                claims.tools.as_ref().and_then(|t| serde_json::to_string(t).ok()),
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(IdentityError::DuplicateAgent { id: claims.agent_id })
            }
            Err(source) => Err(self.error("write to", source)),
        }
    }

    /// Every recorded agent, oldest first.
    pub fn list(&self) -> Result<Vec<AgentRecord>, IdentityError> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM agents ORDER BY issued_at, agent_id");
        let mut stmt = conn.prepare(&sql).map_err(|e| self.error("read", e))?;
        let rows = stmt.query_map([], RawRecord::from_row).map_err(|e| self.error("read", e))?;
        rows.map(|row| row.map_err(|e| self.error("read", e)).and_then(RawRecord::parse)).collect()
    }

    pub fn get(&self, id: AgentId) -> Result<Option<AgentRecord>, IdentityError> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE agent_id = ?1");
        conn.query_row(&sql, [id.to_string()], RawRecord::from_row)
            .optional()
            .map_err(|e| self.error("read", e))?
            .map(RawRecord::parse)
            .transpose()
    }

    /// Records the directory `warrant run` gave agent `id` as its workspace
    /// (the built-in file tools work beneath it).
    pub fn set_workspace(&self, id: AgentId, workspace: &Path) -> Result<(), IdentityError> {
        let text = workspace.to_str().ok_or_else(|| IdentityError::CorruptRecord {
            id: id.to_string(),
            reason: "workspace path is not UTF-8".into(),
        })?;
        let changed = self
            .conn()
            .execute(
                "UPDATE agents SET workspace = ?2 WHERE agent_id = ?1",
                params![id.to_string(), text],
            )
            .map_err(|e| self.error("write to", e))?;
        if changed == 0 {
            return Err(IdentityError::UnknownAgent { id });
        }
        Ok(())
    }

    /// The workspace recorded for agent `id`, if any.
    pub fn workspace(&self, id: AgentId) -> Result<Option<PathBuf>, IdentityError> {
        let conn = self.conn();
        let found: Option<Option<String>> = conn
            .query_row(
                "SELECT workspace FROM agents WHERE agent_id = ?1",
                [id.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error("read", e))?;
        Ok(found.flatten().map(PathBuf::from))
    }

    /// Every recorded descendant of `id` (children, their children, ...).
    /// Revoking or stopping `id` covers them through their tokens, which
    /// name all their ancestors; this list is for showing that.
    pub fn descendants(&self, id: AgentId) -> Result<Vec<AgentId>, IdentityError> {
        self.ids(
            "WITH RECURSIVE tree(id) AS (
                 SELECT agent_id FROM agents WHERE parent_id = ?1
                 UNION
                 SELECT a.agent_id FROM agents a JOIN tree ON a.parent_id = tree.id
             )
             SELECT id FROM tree",
            [id.to_string()],
        )
    }

    /// Marks an agent revoked at `now`. Revoking again keeps the first time.
    pub fn revoke(&self, id: AgentId, now: UnixMillis) -> Result<AgentRecord, IdentityError> {
        self.conn()
            .execute(
                "UPDATE agents SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL",
                params![id.to_string(), now.0],
            )
            .map_err(|e| self.error("write to", e))?;
        self.get(id)?.ok_or(IdentityError::UnknownAgent { id })
    }

    /// Stops `target` until [`resume`](Self::resume): persisted, so it
    /// holds across restarts. Killing what is already killed keeps the first
    /// record.
    pub fn kill(
        &self,
        target: &KillTarget,
        by: &str,
        now: UnixMillis,
    ) -> Result<(), IdentityError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO kills (target, killed_at, killed_by) VALUES (?1, ?2, ?3)",
                params![target.key(), now.0, by],
            )
            .map_err(|e| self.error("write to", e))?;
        Ok(())
    }

    /// Lifts a kill. `All` lifts every kill, of every agent. Returns whether
    /// anything was lifted.
    pub fn resume(&self, target: &KillTarget) -> Result<bool, IdentityError> {
        let conn = self.conn();
        let changed = match target {
            KillTarget::All => conn.execute("DELETE FROM kills", []),
            KillTarget::Agent(_) => {
                conn.execute("DELETE FROM kills WHERE target = ?1", params![target.key()])
            }
        }
        .map_err(|e| self.error("write to", e))?;
        Ok(changed > 0)
    }

    /// What is killed now, for the gateway to hold in memory.
    pub fn kills(&self) -> Result<KillSet, IdentityError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT target FROM kills").map_err(|e| self.error("read", e))?;
        let rows =
            stmt.query_map([], |row| row.get::<_, String>(0)).map_err(|e| self.error("read", e))?;
        let mut set = KillSet::default();
        for row in rows {
            let target = row.map_err(|e| self.error("read", e))?;
            if target == ALL_AGENTS {
                set.all = true;
            } else {
                set.agents.insert(parse_id(&target)?);
            }
        }
        Ok(set)
    }

    /// The ids of all revoked agents, for the gateway to hold in memory.
    pub fn revoked_ids(&self) -> Result<HashSet<AgentId>, IdentityError> {
        self.ids("SELECT agent_id FROM agents WHERE revoked_at IS NOT NULL", [])
    }

    /// The agent ids a one-column query returns.
    fn ids<C: FromIterator<AgentId>>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<C, IdentityError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).map_err(|e| self.error("read", e))?;
        let rows = stmt
            .query_map(params, |row| row.get::<_, String>(0))
            .map_err(|e| self.error("read", e))?;
        rows.map(|row| parse_id(&row.map_err(|e| self.error("read", e))?)).collect()
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, operation: &'static str, source: rusqlite::Error) -> IdentityError {
        IdentityError::Registry { operation, path: self.path.clone(), source }
    }
}

/// An agent id read back from the registry.
fn parse_id(text: &str) -> Result<AgentId, IdentityError> {
    AgentId::parse(text).map_err(|e| IdentityError::CorruptRecord {
        id: crate::printable(text),
        reason: e.to_string(),
    })
}

/// Creates the database file with mode 0600 if it does not exist, so SQLite
/// (which gives its WAL and shared-memory files the database's mode) never
/// creates it world-readable. An existing file is left as the operator set it.
fn create_private(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(file) => file.set_permissions(Permissions::from_mode(0o600)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A row as stored, before its values are parsed back into types.
struct RawRecord {
    agent_id: String,
    name: String,
    spiffe_id: String,
    task: String,
    spawned_by: String,
    depth: i64,
    issued_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    parent_id: Option<String>,
    tools: Option<String>,
}

impl RawRecord {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            agent_id: row.get(0)?,
            name: row.get(1)?,
            spiffe_id: row.get(2)?,
            task: row.get(3)?,
            spawned_by: row.get(4)?,
            depth: row.get(5)?,
            issued_at: row.get(6)?,
            expires_at: row.get(7)?,
            revoked_at: row.get(8)?,
            parent_id: row.get(9)?,
            tools: row.get(10)?,
        })
    }

    fn parse(self) -> Result<AgentRecord, IdentityError> {
        let corrupt = |reason: String| IdentityError::CorruptRecord {
            id: crate::printable(&self.agent_id),
            reason,
        };
        Ok(AgentRecord {
            agent_id: AgentId::parse(&self.agent_id).map_err(|e| corrupt(e.to_string()))?,
            name: AgentName::parse(&self.name).map_err(|e| corrupt(e.to_string()))?,
            depth: u32::try_from(self.depth)
                .map_err(|_| corrupt(format!("depth {} is out of range", self.depth)))?,
            spiffe_id: self.spiffe_id,
            task: self.task,
            spawned_by: self.spawned_by,
            issued_at: UnixMillis(self.issued_at),
            expires_at: UnixMillis(self.expires_at),
            revoked_at: self.revoked_at.map(UnixMillis),
            parent_id: self
                .parent_id
                .as_deref()
                .map(AgentId::parse)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            tools: self
                .tools
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt(format!("tool list: {e}")))?,
        })
    }
}
