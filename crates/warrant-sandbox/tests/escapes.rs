//! Kernel interfaces that could undo the sandbox are refused, each for a
//! precise reason (the errno says which layer refused).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{Fixture, skip_unless, strict, strict_needs, verdict};

/// (attempt, args, expected errno). EPERM is seccomp's answer; EACCES is
/// Landlock's; ESRCH means the target does not exist in the PID namespace.
const ATTEMPTS: &[(&str, &[&str], i32)] = &[
    ("ptrace", &["1"], libc::EPERM),
    ("process-vm-readv", &["1"], libc::EPERM),
    ("proc-mem", &["1"], libc::EACCES),
    // One of init's descriptors (the network tests try every one of them).
    ("read", &["/proc/1/fd/3"], libc::EACCES),
    ("read", &["/proc/1/environ"], libc::EACCES),
    ("io-uring", &[], libc::EPERM),
    ("tiocsti", &[], libc::EPERM),
    ("tioclinux", &[], libc::EPERM),
    ("mount", &[], libc::EPERM),
    ("unshare-user", &[], libc::EPERM),
    ("clone-newuser", &[], libc::EPERM),
    ("bpf", &[], libc::EPERM),
    ("userfaultfd", &[], libc::EPERM),
    ("keyctl", &[], libc::EPERM),
    // The vault's optional key cache lives in the user keyring.
    ("add-key", &[], libc::EPERM),
    ("request-key", &[], libc::EPERM),
    ("socket-netlink", &[], libc::EPERM),
    ("socket-packet", &[], libc::EPERM),
];

#[test]
fn escape_syscalls_are_refused_with_the_expected_errno() {
    if skip_unless("escape_syscalls_are_refused_with_the_expected_errno", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    let mut wrong = Vec::new();
    for (attempt, args, errno) in ATTEMPTS {
        let verdict = verdict(&fixture, &spec, attempt, args);
        if !verdict.contains(&format!("denied errno={errno} ")) {
            wrong.push(format!("{verdict} (expected errno {errno})"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn host_processes_cannot_be_signalled() {
    if skip_unless("host_processes_cannot_be_signalled", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    // The launcher's pid does not exist in the sandbox's PID namespace...
    let me = std::process::id().to_string();
    common::assert_denied(&fixture, &spec, "kill", &[&me], libc::ESRCH);
    // ...and init, which does, is outside the Landlock domain.
    common::assert_denied(&fixture, &spec, "kill", &["1"], libc::EPERM);
}

/// A file made set-user-ID or set-group-ID in the workspace would keep the
/// bit on the host, where the sandbox's `nosuid` mount does not apply:
/// every way to set those bits is refused, and ordinary modes still work.
#[test]
fn set_user_id_and_set_group_id_bits_cannot_be_set() {
    if skip_unless("set_user_id_and_set_group_id_bits_cannot_be_set", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    let script = r#"
        printf x > s; chmod 755 s && echo plain-ok
        chmod 4755 s 2>/dev/null && echo SETUID
        chmod u+s s 2>/dev/null && echo SETUID-SYMBOLIC
        chmod 2755 s 2>/dev/null && echo SETGID
        mkdir d; chmod g+s d 2>/dev/null && echo SETGID-DIR
        install -m 4755 /dev/null i 2>/dev/null && echo INSTALLED
        perl -MFcntl -e 'sysopen(my $f, "o", O_CREAT|O_WRONLY, 04755) and print "CREATED-SETUID\n"'
        perl -e 'my $p = "s"; syscall(452, -100, $p, 04755, 0) == 0 and print "RAW-FCHMODAT2\n"; print "fchmodat2-errno=", $!+0, "\n"'
        perl -e 'my ($p, $how) = ("o2", pack("QQQ", 0x41, 04755, 0)); syscall(437, -100, $p, $how, 24) >= 0 and print "OPENAT2\n"; print "openat2-errno=", $!+0, "\n"'
        true
    "#;
    // x86_64's calls without an `*at` form.
    let legacy = if cfg!(target_arch = "x86_64") {
        r#"
        perl -e 'my $p = "s"; syscall(90, $p, 04755) == 0 and print "RAW-CHMOD\n"; print "chmod-errno=", $!+0, "\n"'
        perl -e 'my $p = "c"; syscall(85, $p, 04755) >= 0 and print "RAW-CREAT\n"; print "creat-errno=", $!+0, "\n"'
        perl -e 'my $p = "p"; syscall(2, $p, 0x41, 04755) >= 0 and print "RAW-OPEN\n"; print "open-errno=", $!+0, "\n"'
        "#
    } else {
        ""
    };
    let script = format!("{legacy}{script}");
    let output = common::run(&spec, &common::sh(&script));
    let text = common::stdout(&output);
    assert!(text.contains("plain-ok"), "{text}");
    for escaped in [
        "SETUID",
        "SETGID",
        "INSTALLED",
        "CREATED-SETUID",
        "RAW-CHMOD",
        "RAW-CREAT",
        "RAW-OPEN",
        "RAW-FCHMODAT2",
        "OPENAT2",
    ] {
        assert!(!text.contains(escaped), "{escaped}: {text}");
    }
    // openat2, whose mode seccomp cannot see, is "not implemented" so that
    // callers fall back to openat.
    assert!(text.contains(&format!("openat2-errno={}", libc::ENOSYS)), "{text}");
    // The raw calls were made, and refused by seccomp (EPERM), not lost to
    // a script error; fchmodat2 may predate the kernel (ENOSYS).
    let raw: &[&str] = if cfg!(target_arch = "x86_64") { &["chmod", "creat", "open"] } else { &[] };
    for call in raw {
        assert!(text.contains(&format!("{call}-errno={}", libc::EPERM)), "{call}: {text}");
    }
    assert!(
        text.contains(&format!("fchmodat2-errno={}", libc::EPERM))
            || text.contains(&format!("fchmodat2-errno={}", libc::ENOSYS)),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    for name in ["s", "d", "i", "o", "o2", "c", "p"] {
        if let Ok(meta) = std::fs::metadata(fixture.workspace.join(name)) {
            let mode = meta.permissions().mode();
            assert_eq!(mode & 0o6000, 0, "{name} is {mode:o} on the host");
        }
    }
}
