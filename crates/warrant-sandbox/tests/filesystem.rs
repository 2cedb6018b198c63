//! The file-system view: only the planned mounts, with the planned access.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{Fixture, assert_denied, run, sh, skip_unless, stdout, strict, strict_needs, verdict};
use warrant_sandbox::{Access, PathRule, Sandbox, SandboxSpec};

#[test]
fn a_secret_beside_the_workspace_is_invisible() {
    if skip_unless("a_secret_beside_the_workspace_is_invisible", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    // The helper can read what it should (proves the probe itself works)...
    let own = verdict(&fixture, &spec, "read", &[fixture.helper.to_str().unwrap()]);
    assert!(own.contains("allowed"), "{own}");
    // ...but not the stand-in for $WARRANT_HOME next to the workspace.
    assert_denied(&fixture, &spec, "read", &[fixture.secret.to_str().unwrap()], libc::ENOENT);
    let listing = run(&spec, &sh(&format!("ls -A {}", fixture.base.path().display())));
    assert_eq!(stdout(&listing), "workspace\n", "only the workspace is visible in its parent");
}

#[test]
fn home_is_private_and_host_sockets_are_absent() {
    if skip_unless("home_is_private_and_host_sockets_are_absent", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    let output = run(
        &spec,
        &sh(
            "ls -A \"$HOME\" | wc -l; for p in /run /var /var/run/docker.sock /tmp/.X11-unix /sys /mnt /opt /etc/shadow /etc/ssh /etc/machine-id; do test -e $p && echo present $p; done; ls /",
        ),
    );
    let text = stdout(&output);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("0"), "HOME must be empty: {text}");
    let rest: Vec<_> = lines.collect();
    assert!(!rest.iter().any(|l| l.starts_with("present")), "{text}");
    // System entries, plus the first components of HOME and the workspace.
    let first = |p: &std::path::Path| {
        p.components().nth(1).unwrap().as_os_str().to_str().unwrap().to_owned()
    };
    let home = first(warrant_sandbox::Sandbox::new(&spec).unwrap().home());
    let mut expected =
        ["bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr"]
            .map(String::from)
            .to_vec();
    expected.extend([home, first(&fixture.workspace)]);
    for entry in &rest {
        assert!(
            expected.iter().any(|e| e == entry),
            "unexpected top-level entry `{entry}` in {rest:?}"
        );
    }
}

#[test]
fn writes_succeed_in_the_workspace_and_fail_everywhere_else() {
    if skip_unless("writes_succeed_in_the_workspace_and_fail_everywhere_else", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    let inside = fixture.workspace.join("made-inside");
    let ok = verdict(&fixture, &spec, "write", &[inside.to_str().unwrap()]);
    assert!(ok.contains("allowed"), "{ok}");
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "escape\n");
    // /dev is a directory of the read-only root, holding only the device
    // nodes bound onto it (and /dev/shm).
    for path in ["/usr/escape", "/etc/escape", "/escape", "/bin/escape", "/dev/escape"] {
        assert_denied(&fixture, &spec, "write", &[path], libc::EROFS);
    }
    // Writable as uid 0 by permissions alone; the bind is read-only.
    assert_denied(&fixture, &spec, "write", &["/proc/sys/kernel/hostname"], libc::EROFS);
    // /etc and /dev are each covered by one Landlock rule: that grants no
    // more than the entries had (the copies stay read-only, the devices usable).
    assert_denied(&fixture, &spec, "write", &["/etc/passwd"], libc::EROFS);
    let null = verdict(&fixture, &spec, "write", &["/dev/null"]);
    assert!(null.contains("allowed"), "{null}");
    // The parent of the workspace is the sandbox's own (a read-only tmpfs
    // root, or its private /tmp when the workspace lives under /tmp), never
    // the host's directory.
    let beside = fixture.base.path().join("made-beside");
    let verdict_beside = verdict(&fixture, &spec, "write", &[beside.to_str().unwrap()]);
    if !beside.starts_with("/tmp") {
        assert!(verdict_beside.contains("denied"), "{verdict_beside}");
    }
    assert!(!beside.exists(), "a write beside the workspace reached the host");
    // /tmp is private: writable inside, never the host's.
    let output = run(&spec, &sh("echo x > /tmp/sandbox-private-marker && ls /tmp"));
    // Besides the marker, /tmp holds only mount points leading to the
    // workspace when the workspace lives under /tmp.
    let listed = stdout(&output);
    assert!(listed.lines().any(|l| l == "sandbox-private-marker"), "{listed}");
    for entry in listed.lines().filter(|l| *l != "sandbox-private-marker") {
        assert!(fixture.workspace.starts_with(format!("/tmp/{entry}")), "{listed}");
    }
    assert!(!std::path::Path::new("/tmp/sandbox-private-marker").exists());
}

#[test]
fn read_only_paths_are_readable_but_not_writable() {
    if skip_unless("read_only_paths_are_readable_but_not_writable", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let data = fixture.base.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("input.txt"), "ro-content\n").unwrap();
    let mut profile = strict();
    profile.paths.push(PathRule {
        path: data.display().to_string(),
        access: Access::ReadOnly,
        optional: false,
        reason: "test input".into(),
    });
    let spec = fixture.spec(profile);
    let read = verdict(&fixture, &spec, "read", &[data.join("input.txt").to_str().unwrap()]);
    assert!(read.contains("allowed 11 bytes"), "{read}");
    assert_denied(
        &fixture,
        &spec,
        "write",
        &[data.join("input.txt").to_str().unwrap()],
        libc::EROFS,
    );
    assert_denied(&fixture, &spec, "write", &[data.join("new.txt").to_str().unwrap()], libc::EROFS);
    assert_eq!(std::fs::read_to_string(data.join("input.txt")).unwrap(), "ro-content\n");
    // The secret directory, not listed, stays invisible even with a sibling mounted.
    assert_denied(&fixture, &spec, "read", &[fixture.secret.to_str().unwrap()], libc::ENOENT);
}

#[test]
fn only_the_sandboxs_processes_are_visible() {
    if skip_unless("only_the_sandboxs_processes_are_visible", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let output =
        run(&fixture.spec(strict()), &sh("ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '"));
    let pids: Vec<u32> = stdout(&output).split_whitespace().map(|p| p.parse().unwrap()).collect();
    // init, the shell, ls, grep, sort, tr: all small pids of the new namespace.
    assert!(pids.contains(&1) && pids.len() <= 8, "{pids:?}");
    assert!(pids.iter().all(|p| *p < 50), "{pids:?}");
}

/// The home inside the workspace (`cd ~ && warrant run`): a protected
/// directory and a protected file there are empty and cannot be written, nor
/// removed or renamed away, while the rest of the workspace stays usable.
#[test]
fn protected_paths_inside_the_workspace_are_masked_empty_and_read_only() {
    if skip_unless(
        "protected_paths_inside_the_workspace_are_masked_empty_and_read_only",
        &strict_needs(),
    ) {
        return;
    }
    let fixture = Fixture::new();
    let keys = fixture.workspace.join("home/.warrant/keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("root.key"), "ROOT-KEY").unwrap();
    let netrc = fixture.workspace.join("home/.netrc");
    std::fs::write(&netrc, "machine x password TOP-SECRET").unwrap();
    let spec = fixture
        .spec(strict())
        .with_protected(fixture.workspace.join("home/.warrant"), "Warrant's home")
        .with_protected(&netrc, "passwords");
    let home = fixture.workspace.join("home/.warrant");
    assert_denied(
        &fixture,
        &spec,
        "read",
        &[keys.join("root.key").to_str().unwrap()],
        libc::ENOENT,
    );
    let listed = verdict(&fixture, &spec, "list", &[home.to_str().unwrap()]);
    assert!(listed.contains("allowed 0 entries"), "{listed}");
    let read = verdict(&fixture, &spec, "read", &[netrc.to_str().unwrap()]);
    assert!(read.contains("allowed 0 bytes"), "{read}");
    assert_denied(&fixture, &spec, "write", &[netrc.to_str().unwrap()], libc::EROFS);
    assert_denied(&fixture, &spec, "write", &[home.join("keys").to_str().unwrap()], libc::EROFS);
    let script = format!(
        "mv {h} {w}/stolen 2>/dev/null && echo moved; mv {w}/home {w}/aside 2>/dev/null && echo moved-parent; \
         rm -rf {h} {w}/home 2>/dev/null; \
         test -e {k} && echo key; echo ok > {w}/fine && cat {w}/fine",
        h = home.display(),
        w = fixture.workspace.display(),
        k = keys.join("root.key").display()
    );
    let output = run(&spec, &sh(&script));
    assert_eq!(stdout(&output), "ok\n", "{:?}", String::from_utf8_lossy(&output.stderr));
    // Nothing inside reached the host's files.
    assert_eq!(std::fs::read_to_string(keys.join("root.key")).unwrap(), "ROOT-KEY");
    assert!(std::fs::read_to_string(&netrc).unwrap().contains("TOP-SECRET"));
    let evidence = format!("{:?}", output.report);
    assert!(evidence.contains("2 protected paths masked"), "{evidence}");
    assert!(fixture.workspace.join("home/.warrant/keys/root.key").exists());
}

#[test]
fn a_workspace_inside_a_protected_path_is_refused() {
    let fixture = Fixture::new();
    let spec = SandboxSpec::new(strict(), &fixture.workspace)
        .with_protected(fixture.base.path(), "Warrant's home");
    let err = Sandbox::new(&spec).err().expect("a workspace inside Warrant's home must be refused");
    assert!(err.to_string().contains("no sandbox sees"), "{err}");
}
