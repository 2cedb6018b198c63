//! cgroup v2 for the whole tree, where one is delegated.
//!
//! The mechanics (a cgroup per sandbox, joined before the namespaces, checked
//! from inside, removed afterwards) need only a writable cgroup v2 directory,
//! which root has on most hosts. The limits need the `memory` and `pids`
//! controllers delegated to it; on hosts where they are bound to cgroup v1
//! (CI's among them) those tests say so and skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::{Fixture, run, sh, skip_unless, stdout, strict, strict_needs, with_limits};
use warrant_sandbox::{CgroupMode, Control, ControlStatus, LaunchError, Sandbox};

/// A fresh child of this process's cgroup for one test, removed on drop;
/// `None` (with the reason printed) when none can be made here.
struct TestParent {
    dir: PathBuf,
    path: String,
}

impl TestParent {
    fn new(test: &str) -> Option<Self> {
        let Some(own) = warrant_sandbox::own_cgroup() else {
            eprintln!("SKIP {test}: no cgroup v2 hierarchy on this host");
            return None;
        };
        let name = format!("warrant-test-{}-{test}", std::process::id());
        let dir = own.dir().join(&name);
        if let Err(e) = std::fs::create_dir(&dir) {
            eprintln!("SKIP {test}: cannot create a cgroup v2 directory here ({e})");
            return None;
        }
        let path = format!("{}/{name}", own.path.trim_end_matches('/'));
        Some(Self { dir, path })
    }

    fn controllers(&self) -> String {
        std::fs::read_to_string(self.dir.join("cgroup.controllers")).unwrap_or_default()
    }

    /// Whether it hands `memory` and `pids` to the sandboxes' cgroups.
    fn has_limit_controllers(&self) -> bool {
        let controllers = self.controllers();
        ["memory", "pids"].iter().all(|c| controllers.split_whitespace().any(|x| x == *c))
    }

    fn children(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TestParent {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn each_sandbox_runs_in_a_cgroup_of_its_own_which_is_removed_after() {
    let test = "each_sandbox_runs_in_a_cgroup_of_its_own_which_is_removed_after";
    if skip_unless(test, &strict_needs()) {
        return;
    }
    let Some(parent) = TestParent::new("own") else { return };
    let fixture = Fixture::new();
    let spec = fixture.spec(strict()).with_cgroup_parent(&parent.dir);
    let output = run(&spec, &sh("cat /proc/self/cgroup"));
    assert!(output.status.success(), "{:?}", output.status);
    // Seen from inside: a child of the parent, named for this launch.
    let inside = stdout(&output);
    let line = inside.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or_default();
    let expected = format!("{}/warrant-{}-", parent.path, std::process::id());
    assert!(line.starts_with(&expected), "inside: {inside:?}, expected {expected}…");
    // Removed once the tree is gone.
    assert!(parent.children().is_empty(), "left behind: {:?}", parent.children());

    let entry = output.report.get(Control::Cgroup).unwrap();
    assert!(!entry.required);
    assert!(entry.evidence.contains(line), "{}", entry.evidence);
    if parent.has_limit_controllers() {
        assert_eq!(entry.status, ControlStatus::Verified, "{}", entry.evidence);
    } else {
        // Joined, but the limits have no controller here: not verified.
        assert_eq!(entry.status, ControlStatus::Unavailable, "{}", entry.evidence);
        assert!(entry.evidence.contains("no memory controller"), "{}", entry.evidence);
    }
}

#[test]
fn a_profile_that_requires_a_cgroup_refuses_without_its_limits() {
    let test = "a_profile_that_requires_a_cgroup_refuses_without_its_limits";
    if skip_unless(test, &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let profile = with_limits(|p| p.limits.cgroup = CgroupMode::Required);
    // With no parent given, the launcher's own cgroup is used only when it
    // hands out memory and pids; with this parent, only if it does.
    let parent = TestParent::new("required");
    let spec = match &parent {
        Some(parent) => fixture.spec(profile).with_cgroup_parent(&parent.dir),
        None => fixture.spec(profile),
    };
    let delegated = parent.as_ref().is_some_and(TestParent::has_limit_controllers);
    let result = warrant_sandbox::run(&spec, &["/bin/true".into()]);
    if delegated {
        let output = result.unwrap();
        assert_eq!(output.report.get(Control::Cgroup).unwrap().status, ControlStatus::Verified);
    } else {
        match result {
            Err(LaunchError::ControlUnavailable { control: Control::Cgroup, reason, .. }) => {
                assert!(!reason.is_empty());
            }
            other => panic!("expected a refusal naming the cgroup, got {other:?}"),
        }
    }
    if let Some(parent) = &parent {
        assert!(parent.children().is_empty(), "left behind: {:?}", parent.children());
    }
}

#[test]
fn the_profile_can_turn_the_cgroup_off() {
    let test = "the_profile_can_turn_the_cgroup_off";
    if skip_unless(test, &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let profile = with_limits(|p| p.limits.cgroup = CgroupMode::Off);
    let output = run(&fixture.spec(profile), &["/bin/true".into()]);
    let entry = output.report.get(Control::Cgroup).unwrap();
    assert_eq!(entry.status, ControlStatus::NotRequested, "{}", entry.evidence);
}

#[test]
fn a_parent_that_is_not_a_cgroup_is_refused_before_launch() {
    let fixture = Fixture::new();
    let spec = fixture.spec(strict()).with_cgroup_parent(&fixture.outside);
    match Sandbox::new(&spec) {
        Err(LaunchError::Path { path, .. }) => assert_eq!(path, fixture.outside),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a plain directory was taken for a cgroup"),
    }
}

#[test]
fn memory_and_process_limits_bind_the_whole_tree() {
    let test = "memory_and_process_limits_bind_the_whole_tree";
    if skip_unless(test, &strict_needs()) {
        return;
    }
    let Some(parent) = TestParent::new("limits") else { return };
    if !parent.has_limit_controllers() {
        let controllers = parent.controllers();
        eprintln!(
            "SKIP {test}: the memory and pids controllers are not delegated to cgroup v2 here \
             (available: `{}`); limits fall back to rlimits",
            controllers.trim()
        );
        return;
    }
    // Hand the controllers to the sandboxes' cgroups.
    std::fs::write(parent.dir.join("cgroup.subtree_control"), "+memory +pids").unwrap();
    let fixture = Fixture::new();
    let profile = with_limits(|p| {
        p.limits.cgroup = CgroupMode::Required;
        p.limits.memory_bytes = Some(256 << 20);
        p.limits.max_processes = Some(16);
    });
    let spec = fixture.spec(profile).with_cgroup_parent(&parent.dir);
    let sandbox = Sandbox::new(&spec).unwrap();
    let helper = fixture.helper.display();

    // Three processes of 120 MiB each, held together: each is within its own
    // 256 MiB address space (the rlimit), the tree is not within memory.max.
    let hog = format!("{helper} memory-hog 120 1000 >/dev/null");
    let hogs = format!(
        "{hog} & a=$!; {hog} & b=$!; {hog} & c=$!; ok=0; \
         for p in $a $b $c; do wait $p && ok=$((ok+1)); done; echo ok=$ok"
    );
    let output = sandbox.run(&sh(&hogs), 4096).unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        ["ok=0", "ok=1", "ok=2"].iter().any(|n| said.contains(n)),
        "the tree went past memory.max: {said}"
    );

    // Twenty processes against pids.max = 16 (as root, RLIMIT_NPROC binds
    // nothing and pid_max is at least 301: only the cgroup stops these).
    let forks = "n=0; for i in $(seq 20); do sleep 2 & n=$((n+1)); done 2>/dev/null; \
                 ls /proc | grep -c '^[0-9]'";
    let output = sandbox.run(&sh(forks), 4096).unwrap();
    let running: u32 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or(99);
    assert!(running <= 16, "{running} processes in a tree bounded to 16");
    assert!(parent.children().is_empty(), "left behind: {:?}", parent.children());
}
