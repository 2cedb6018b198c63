//! The control plane belongs to the home's owner: another local user can
//! reach neither the socket nor, if the filesystem let them, the gateway
//! behind it (peer-credential check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use warrant_test_support::Warrant;

const BIN: &str = env!("CARGO_BIN_EXE_warrant");
const NOBODY: &str = "65534";

/// `warrant status` run as another user; its exit code and stderr.
fn status_as_nobody(w: &Warrant) -> (i32, String) {
    let out = Command::new("setpriv")
        .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", BIN, "--home"])
        .arg(w.home())
        .args(["status", "--json"])
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn another_user_cannot_reach_the_control_plane() {
    let w = Warrant::new(BIN);
    let gw = w.up();
    let socket = w.home().join("run/control.sock");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(w.home().join("run")).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(w.run(&["status", "--json"]).code, 0, "the owner can");

    // Switching users needs root; CI runs as root.
    let me = std::fs::metadata(w.home()).unwrap().uid();
    if me != 0 {
        eprintln!("not root: only the permission checks above ran");
        return;
    }
    let (code, stderr) = status_as_nobody(&w);
    assert_ne!(code, 0, "another user reached the control plane through the filesystem");
    assert!(!stderr.contains("mcp_url"), "{stderr}");

    // Even with the filesystem opened up, the gateway refuses a peer that
    // does not own the home.
    for dir in [w.dir.path().to_owned(), w.home(), w.home().join("run")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, stderr) = status_as_nobody(&w);
    assert_ne!(code, 0);
    assert!(stderr.contains("not the owner"), "{stderr}");
    drop(gw);
}
