//! Tool pins: the SHA-256 of each tool's full canonical definition, recorded
//! the first time Warrant sees the tool. A later definition that differs is
//! reported (and audited); acting on it — quarantine until a person accepts —
//! is a later step.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;
use warrant_core::UnixMillis;

pub struct PinStore {
    conn: Connection,
}

impl PinStore {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS tool_pins (
                tool TEXT PRIMARY KEY,
                sha256 TEXT NOT NULL,
                first_seen_ms INTEGER NOT NULL,
                definition TEXT NOT NULL
            );",
        )?;
        Ok(Self { conn })
    }

    /// Records `pin` for `tool` if it has none; returns the old pin when the
    /// recorded one differs.
    pub fn observe(
        &self,
        tool: &str,
        pin: &str,
        definition: &rmcp::model::Tool,
    ) -> Result<Option<String>, rusqlite::Error> {
        let existing: Option<String> = self
            .conn
            .query_row("SELECT sha256 FROM tool_pins WHERE tool = ?1", params![tool], |r| r.get(0))
            .optional()?;
        match existing {
            Some(old) if old == pin => Ok(None),
            Some(old) => Ok(Some(old)),
            None => {
                let text = serde_json::to_string(definition).unwrap_or_default();
                self.conn.execute(
                    "INSERT INTO tool_pins (tool, sha256, first_seen_ms, definition) VALUES (?1, ?2, ?3, ?4)",
                    params![tool, pin, UnixMillis::now().0, text],
                )?;
                Ok(None)
            }
        }
    }

    /// The definition recorded with the pin, as JSON text.
    pub fn definition(&self, tool: &str) -> Result<Option<String>, rusqlite::Error> {
        self.conn
            .query_row("SELECT definition FROM tool_pins WHERE tool = ?1", params![tool], |r| {
                r.get(0)
            })
            .optional()
    }
}
