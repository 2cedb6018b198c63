//! Validated names and ids.
//!
//! Each type checks its syntax once, in `parse`/`new`, and is then carried as
//! proof. The rules are deliberately narrow (ASCII, short, no separators that
//! other formats give meaning to) because these names end up in SPIFFE ids,
//! Cedar entity ids, file names and log lines.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The separator between an upstream's name and its tool's name, as agents see
/// them (`notes__search`).
pub const TOOL_SEPARATOR: &str = "__";

/// A name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{kind} `{value}` is empty or longer than {max} characters")]
    Length { kind: &'static str, value: String, max: usize },
    #[error("{kind} `{value}` may only contain {allowed}")]
    Charset { kind: &'static str, value: String, allowed: &'static str },
    #[error("upstream name `{0}` may not contain `__`")]
    UpstreamSeparator(String),
    #[error("tool name `{0}` is not of the form `upstream__tool`")]
    NotQualified(String),
    #[error("agent id `{0}` is not a UUID")]
    AgentId(String),
}

fn check(
    kind: &'static str,
    value: &str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(NameError::Length { kind, value: printable(value), max });
    }
    if !value.chars().all(ok) {
        return Err(NameError::Charset { kind, value: printable(value), allowed });
    }
    Ok(())
}

/// Error messages quote user input; keep control characters out of them.
fn printable(value: &str) -> String {
    crate::text::printable_up_to(value, 80)
}

/// The name of an upstream MCP server, from `[upstreams.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UpstreamName(String);

impl UpstreamName {
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check("upstream name", value, 48, "a-z, 0-9, `-` and `_`", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
        })?;
        if value.contains(TOOL_SEPARATOR) {
            return Err(NameError::UpstreamSeparator(value.to_owned()));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tool as agents address it: `upstream__tool`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ToolName {
    upstream: UpstreamName,
    tool: String,
    qualified: String,
}

impl ToolName {
    /// Qualifies an upstream's own tool name.
    pub fn new(upstream: UpstreamName, tool: &str) -> Result<Self, NameError> {
        check("tool name", tool, 128, "A-Z, a-z, 0-9, `_`, `-` and `.`", |c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
        })?;
        let qualified = format!("{}{TOOL_SEPARATOR}{tool}", upstream.as_str());
        Ok(Self { upstream, tool: tool.to_owned(), qualified })
    }

    /// Parses a qualified name as an agent sends it.
    pub fn parse(qualified: &str) -> Result<Self, NameError> {
        let (upstream, tool) = qualified
            .split_once(TOOL_SEPARATOR)
            .ok_or_else(|| NameError::NotQualified(printable(qualified)))?;
        Self::new(UpstreamName::parse(upstream)?, tool)
    }

    pub fn upstream(&self) -> &UpstreamName {
        &self.upstream
    }

    /// The name the upstream itself knows the tool by.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    pub fn as_str(&self) -> &str {
        &self.qualified
    }
}

impl Serialize for ToolName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.qualified)
    }
}

/// A human-chosen agent name (`researcher`), not unique.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AgentName(String);

impl AgentName {
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check("agent name", value, 64, "A-Z, a-z, 0-9, `-`, `_` and `.`", |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
        })?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The unique id of one agent instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(Uuid);

impl AgentId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(value: &str) -> Result<Self, NameError> {
        Uuid::parse_str(value).map(Self).map_err(|_| NameError::AgentId(printable(value)))
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(UpstreamName, ToolName, AgentName);

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_tool_names_round_trip() {
        let t = ToolName::parse("notes__search_all").unwrap();
        assert_eq!(t.upstream().as_str(), "notes");
        assert_eq!(t.tool(), "search_all");
        assert_eq!(t.as_str(), "notes__search_all");
        // The upstream part never contains the separator, so the first `__` splits.
        let t = ToolName::parse("fs__read__file").unwrap();
        assert_eq!(t.tool(), "read__file");
    }

    #[test]
    fn unqualified_and_hostile_tool_names_are_refused() {
        assert!(matches!(ToolName::parse("search"), Err(NameError::NotQualified(_))));
        assert!(ToolName::parse("__search").is_err());
        assert!(ToolName::parse("notes__").is_err());
        assert!(ToolName::parse("notes__a b").is_err());
        assert!(ToolName::parse("notes__\u{202e}x").is_err());
        assert!(ToolName::parse("Notes__x").is_err());
    }

    #[test]
    fn upstream_names_cannot_hide_a_separator() {
        assert_eq!(UpstreamName::parse("a__b"), Err(NameError::UpstreamSeparator("a__b".into())));
        assert!(UpstreamName::parse("a_b").is_ok());
    }

    #[test]
    fn agent_names_and_ids_are_checked() {
        assert!(AgentName::parse("researcher-1").is_ok());
        assert!(AgentName::parse("a/b").is_err());
        assert!(AgentName::parse("").is_err());
        let id = AgentId::random();
        assert_eq!(AgentId::parse(&id.to_string()).unwrap(), id);
        assert!(AgentId::parse("not-a-uuid").is_err());
    }

    #[test]
    fn error_messages_escape_control_characters() {
        let err = AgentName::parse("a\u{1b}[31m").unwrap_err().to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
