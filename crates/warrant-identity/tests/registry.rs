//! The agent registry: records, revocations, and two handles on one file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_identity::{
    Claims, IdentityError, IssueRequest, Registry, RootKey, TrustDomain, issue,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("warrant-identity-reg-{}", AgentId::random()));
        fs::create_dir(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("state.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn claims(name: &str, now: i64) -> Claims {
    let domain = TrustDomain::parse("warrant.local").unwrap();
    let req = IssueRequest {
        trust_domain: &domain,
        name: AgentName::parse(name).unwrap(),
        task: format!("task of {name}"),
        spawned_by: "operator:alice".into(),
        ttl: Duration::from_secs(60),
        now: UnixMillis(now),
    };
    issue(&RootKey::generate(), req).unwrap().0
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn recorded_agents_are_listed_in_issue_order_with_their_claims() {
    let dir = TempDir::new();
    let registry = Registry::open(&dir.db()).unwrap();
    let second = claims("second", 2_000);
    let first = claims("first", 1_000);
    registry.record_issued(&second).unwrap();
    registry.record_issued(&first).unwrap();

    let list = registry.list().unwrap();
    assert_eq!(list.len(), 2);
    let record = &list[0];
    assert_eq!(record.agent_id, first.agent_id);
    assert_eq!(record.name, first.name);
    assert_eq!(record.spiffe_id, first.spiffe_id);
    assert_eq!(record.task, first.task);
    assert_eq!(record.spawned_by, first.spawned_by);
    assert_eq!(record.depth, first.depth);
    assert_eq!(record.issued_at, first.issued_at);
    assert_eq!(record.expires_at, first.expires_at);
    assert_eq!(record.revoked_at, None);
    assert_eq!(list[1].agent_id, second.agent_id);
    assert_eq!(registry.get(second.agent_id).unwrap().unwrap(), list[1]);
    assert_eq!(registry.get(AgentId::random()).unwrap(), None);
}

#[test]
fn recording_the_same_agent_twice_is_an_error() {
    let dir = TempDir::new();
    let registry = Registry::open(&dir.db()).unwrap();
    let c = claims("dup", 1_000);
    registry.record_issued(&c).unwrap();
    let err = registry.record_issued(&c).unwrap_err();
    assert!(matches!(err, IdentityError::DuplicateAgent { id } if id == c.agent_id), "{err}");
}

#[test]
fn revocation_is_recorded_once_and_listed() {
    let dir = TempDir::new();
    let registry = Registry::open(&dir.db()).unwrap();
    let (a, b) = (claims("a", 1_000), claims("b", 1_000));
    registry.record_issued(&a).unwrap();
    registry.record_issued(&b).unwrap();
    assert!(registry.revoked_ids().unwrap().is_empty());

    let revoked = registry.revoke(a.agent_id, UnixMillis(5_000)).unwrap();
    assert_eq!(revoked.revoked_at, Some(UnixMillis(5_000)));
    // Idempotent: the first revocation time stands.
    let again = registry.revoke(a.agent_id, UnixMillis(9_000)).unwrap();
    assert_eq!(again.revoked_at, Some(UnixMillis(5_000)));

    let ids = registry.revoked_ids().unwrap();
    assert_eq!(ids.len(), 1);
    assert!(ids.contains(&a.agent_id) && !ids.contains(&b.agent_id));
    assert_eq!(registry.get(b.agent_id).unwrap().unwrap().revoked_at, None);
}

#[test]
fn revoking_an_unknown_agent_is_a_clear_error() {
    let dir = TempDir::new();
    let registry = Registry::open(&dir.db()).unwrap();
    let id = AgentId::random();
    let err = registry.revoke(id, UnixMillis(1)).unwrap_err();
    assert!(matches!(err, IdentityError::UnknownAgent { id: got } if got == id), "{err}");
    assert!(err.to_string().contains(&id.to_string()), "{err}");
    assert!(registry.revoked_ids().unwrap().is_empty());
}

#[test]
fn two_handles_on_one_file_see_each_others_writes() {
    let dir = TempDir::new();
    let cli = Registry::open(&dir.db()).unwrap();
    let gateway = Registry::open(&dir.db()).unwrap();
    let c = claims("shared", 1_000);
    cli.record_issued(&c).unwrap();
    assert_eq!(gateway.get(c.agent_id).unwrap().unwrap().agent_id, c.agent_id);
    cli.revoke(c.agent_id, UnixMillis(2_000)).unwrap();
    assert!(gateway.revoked_ids().unwrap().contains(&c.agent_id));
    let other = claims("other", 3_000);
    gateway.record_issued(&other).unwrap();
    assert_eq!(cli.list().unwrap().len(), 2);
}

#[test]
fn concurrent_writers_wait_for_each_other_instead_of_failing() {
    let dir = TempDir::new();
    let path = dir.db();
    Registry::open(&path).unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let registry = Registry::open(&path).unwrap();
                for i in 0..25 {
                    registry.record_issued(&claims(&format!("w{w}-{i}"), i)).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(Registry::open(&path).unwrap().list().unwrap().len(), 100);
}

#[test]
fn registry_file_is_private_and_in_wal_mode() {
    let dir = TempDir::new();
    let registry = Registry::open(&dir.db()).unwrap();
    registry.record_issued(&claims("a", 1)).unwrap();
    assert_eq!(mode(&dir.db()), 0o600);
    let wal = dir.0.join("state.db-wal");
    assert!(wal.exists(), "a write in WAL mode leaves a -wal file while open");
    assert_eq!(mode(&wal), 0o600);
}

#[test]
fn a_registry_of_another_format_is_refused() {
    let dir = TempDir::new();
    drop(Registry::open(&dir.db()).unwrap());
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute("UPDATE meta SET value = 'warrant-agent-registry-v99' WHERE key = 'format'", [])
        .unwrap();
    drop(conn);
    let err = Registry::open(&dir.db()).err().unwrap();
    assert!(matches!(err, IdentityError::RegistryFormat { .. }), "{err}");
    assert!(err.to_string().contains("v99"), "{err}");
}

#[test]
fn records_serialize_with_flat_claim_fields() {
    let dir = TempDir::new();
    let registry = Registry::open(&dir.db()).unwrap();
    let c = claims("json", 1_000);
    registry.record_issued(&c).unwrap();
    let record = registry.revoke(c.agent_id, UnixMillis(1_500)).unwrap();
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["agent_id"], c.agent_id.to_string());
    assert_eq!(json["name"], "json");
    assert_eq!(json["spiffe_id"], c.spiffe_id);
    assert_eq!(json["expires_at"], 61_000);
    assert_eq!(json["revoked_at"], 1_500);
}

#[test]
fn an_old_registry_is_upgraded_in_place_and_keeps_its_agents() {
    let dir = TempDir::new();
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('format', 'warrant-agent-registry-v1');
         CREATE TABLE agents (agent_id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
             spiffe_id TEXT NOT NULL, task TEXT NOT NULL, spawned_by TEXT NOT NULL,
             depth INTEGER NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
             revoked_at INTEGER);
         CREATE TABLE kills (target TEXT PRIMARY KEY NOT NULL, killed_at INTEGER NOT NULL,
             killed_by TEXT NOT NULL);",
    )
    .unwrap();
    let old = claims("old", 1_000);
    conn.execute(
        "INSERT INTO agents VALUES (?1, 'old', ?2, 't', 'operator:alice', 0, 1000, 61000, NULL)",
        rusqlite::params![old.agent_id.to_string(), old.spiffe_id],
    )
    .unwrap();
    drop(conn);

    let registry = Registry::open(&dir.db()).unwrap();
    let listed = registry.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].agent_id, old.agent_id);
    assert_eq!(listed[0].parent_id, None);
    // And it takes children now.
    let mut child = claims("child", 2_000);
    child.parent = Some(old.agent_id);
    child.tools = Some(["fs__read".to_owned()].into_iter().collect());
    registry.record_issued(&child).unwrap();
    let record = registry.get(child.agent_id).unwrap().unwrap();
    assert_eq!(record.parent_id, Some(old.agent_id));
    assert_eq!(record.tools, Some(vec!["fs__read".to_owned()]));
    assert_eq!(registry.descendants(old.agent_id).unwrap(), vec![child.agent_id]);
    assert_eq!(registry.workspace(child.agent_id).unwrap(), None);
    registry.set_workspace(child.agent_id, Path::new("/work/space")).unwrap();
    assert_eq!(registry.workspace(child.agent_id).unwrap().unwrap(), Path::new("/work/space"));
    drop(registry);
    assert!(Registry::open(&dir.db()).is_ok(), "opens again, upgraded");
}
