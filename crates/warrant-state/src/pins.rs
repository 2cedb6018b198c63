//! Tool pins and quarantine: the SHA-256 of each tool's full canonical
//! definition, recorded when Warrant first admits the tool. A definition that
//! later differs from its pin (a "rug pull"), a new tool from an upstream that
//! already has pins (when its `new_tools` rule says so), or a description
//! that screening flags, is quarantined: hidden and refused until a person
//! runs `warrant tools accept NAME__tool`, which shows the difference first.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use warrant_core::UnixMillis;

pub struct PinStore {
    conn: Connection,
}

/// What admission decided for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The definition matches its pin (or was pinned just now).
    Pinned,
    /// Held back until a person accepts it.
    Quarantined { reason: String },
}

/// What the CLI shows for one tool.
#[derive(Debug, Clone, Serialize)]
pub struct PinRow {
    pub tool: String,
    pub pinned: Option<String>,
    pub state: &'static str,
    pub candidate: Option<String>,
    pub reason: Option<String>,
}

/// What `tools accept` replaced.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub tool: String,
    pub old: Option<serde_json::Value>,
    pub new: serde_json::Value,
    pub sha256: String,
}

impl PinStore {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = open_state(
            path,
            "CREATE TABLE IF NOT EXISTS tool_pins (
                tool TEXT PRIMARY KEY,
                sha256 TEXT NOT NULL,
                first_seen_ms INTEGER NOT NULL,
                definition TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS tool_quarantine (
                tool TEXT PRIMARY KEY,
                sha256 TEXT NOT NULL,
                definition TEXT NOT NULL,
                reason TEXT NOT NULL,
                seen_ms INTEGER NOT NULL
            );",
        )?;
        Ok(Self { conn })
    }

    /// Decides whether `tool` (qualified) with definition hash `pin` may be
    /// offered. `flagged` is the screening's reason, if any; `quarantine_new`
    /// says whether a tool never seen before is held back (the caller sets
    /// it when the upstream had pinned tools before this listing).
    pub fn admit(
        &self,
        tool: &str,
        pin: &str,
        definition: &impl serde::Serialize,
        flagged: Option<String>,
        quarantine_new: bool,
    ) -> Result<Admission, rusqlite::Error> {
        let text = serde_json::to_string(definition).unwrap_or_default();
        let pinned: Option<String> = self
            .conn
            .query_row("SELECT sha256 FROM tool_pins WHERE tool = ?1", params![tool], |r| r.get(0))
            .optional()?;
        let reason = match (&pinned, flagged) {
            (Some(old), _) if old == pin => {
                // What a person accepted stays accepted; drop stale candidates.
                self.conn.execute("DELETE FROM tool_quarantine WHERE tool = ?1", params![tool])?;
                return Ok(Admission::Pinned);
            }
            (Some(old), flag) => {
                let mut reason = format!(
                    "definition changed since it was pinned (pin {}, now {})",
                    short(old),
                    short(pin)
                );
                if let Some(f) = flag {
                    reason.push_str("; ");
                    reason.push_str(&f);
                }
                reason
            }
            (None, Some(f)) => f,
            (None, None) => {
                if quarantine_new {
                    "new tool from an upstream whose tools are already pinned".to_owned()
                } else {
                    self.conn.execute(
                        "INSERT INTO tool_pins (tool, sha256, first_seen_ms, definition) VALUES (?1, ?2, ?3, ?4)",
                        params![tool, pin, UnixMillis::now().0, text],
                    )?;
                    return Ok(Admission::Pinned);
                }
            }
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO tool_quarantine (tool, sha256, definition, reason, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tool, pin, text, reason, UnixMillis::now().0],
        )?;
        Ok(Admission::Quarantined { reason })
    }

    /// Whether the quarantined candidate of `tool` with hash `pin` has since
    /// been accepted (the pin now matches).
    pub fn is_pinned(&self, tool: &str, pin: &str) -> Result<bool, rusqlite::Error> {
        let pinned: Option<String> = self
            .conn
            .query_row("SELECT sha256 FROM tool_pins WHERE tool = ?1", params![tool], |r| r.get(0))
            .optional()?;
        Ok(pinned.as_deref() == Some(pin))
    }

    /// Makes the quarantined candidate of `tool` its pin.
    pub fn accept(&self, tool: &str) -> Result<Option<Accepted>, rusqlite::Error> {
        let candidate: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT sha256, definition FROM tool_quarantine WHERE tool = ?1",
                params![tool],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((sha256, new)) = candidate else { return Ok(None) };
        let old = self.definition(tool)?;
        self.conn.execute(
            "INSERT OR REPLACE INTO tool_pins (tool, sha256, first_seen_ms, definition) VALUES (?1, ?2, ?3, ?4)",
            params![tool, sha256, UnixMillis::now().0, new],
        )?;
        self.conn.execute("DELETE FROM tool_quarantine WHERE tool = ?1", params![tool])?;
        let parse =
            |t: &str| serde_json::from_str(t).unwrap_or(serde_json::Value::String(t.to_owned()));
        Ok(Some(Accepted {
            tool: tool.to_owned(),
            old: old.as_deref().map(parse),
            new: parse(&new),
            sha256,
        }))
    }

    /// Every pinned or quarantined tool.
    pub fn list(&self) -> Result<Vec<PinRow>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT t.tool, p.sha256, q.sha256, q.reason FROM
                 (SELECT tool FROM tool_pins UNION SELECT tool FROM tool_quarantine) t
                 LEFT JOIN tool_pins p ON p.tool = t.tool
                 LEFT JOIN tool_quarantine q ON q.tool = t.tool
             ORDER BY t.tool",
        )?;
        let rows = stmt.query_map([], |r| {
            let candidate: Option<String> = r.get(2)?;
            Ok(PinRow {
                tool: r.get(0)?,
                pinned: r.get(1)?,
                state: if candidate.is_some() { "quarantined" } else { "pinned" },
                candidate,
                reason: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// The definition recorded with the pin, as JSON text.
    pub fn definition(&self, tool: &str) -> Result<Option<String>, rusqlite::Error> {
        self.conn
            .query_row("SELECT definition FROM tool_pins WHERE tool = ?1", params![tool], |r| {
                r.get(0)
            })
            .optional()
    }

    /// Whether any tool of `upstream` is pinned.
    pub fn upstream_has_pins(&self, upstream: &str) -> Result<bool, rusqlite::Error> {
        let prefix = format!("{upstream}{}", "__");
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM tool_pins WHERE substr(tool, 1, length(?1)) = ?1",
            params![prefix],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }
}

/// A connection to the home's state store (shared with the CLI and the
/// agent registry, hence the busy timeout) with `schema` applied.
pub(crate) fn open_state(path: &Path, schema: &str) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
