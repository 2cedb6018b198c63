//! cgroup v2 for the whole tree, where a cgroup is delegated: one child
//! cgroup per sandbox, `memory.max` and `pids.max` from the profile's limits
//! (bounding the tree, where rlimits bound each process), joined by the
//! starter before it enters the user namespace, checked from inside by the
//! command, killed with `cgroup.kill`, removed once init is reaped.
//!
//! "Delegated" means a cgroup v2 directory whose `cgroup.subtree_control`
//! hands `memory` and `pids` to its children and in which the launcher may
//! create a child: the caller's [`SandboxSpec::cgroup_parent`], or else the
//! launcher's own cgroup when it already qualifies (in practice the root
//! cgroup; any other cgroup that hands out controllers may not hold processes
//! itself, the launcher included). Where none is delegated the limits are the
//! rlimits alone, and the report says so.
//!
//! [`SandboxSpec::cgroup_parent`]: crate::SandboxSpec::cgroup_parent

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::profile::Limits;

/// A cgroup v2 directory that sandboxes get children of.
#[derive(Clone, Debug)]
pub(crate) struct Parent {
    /// Where the directory is on the host.
    dir: PathBuf,
    /// Its path inside the hierarchy, as /proc/self/cgroup shows it.
    path: String,
    memory: bool,
    pids: bool,
}

/// Where this process sits in cgroup v2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnCgroup {
    /// The cgroup2 file system's mount point.
    pub mount: PathBuf,
    /// The process's cgroup as /proc/self/cgroup shows it (`/` for the root).
    pub path: String,
}

impl OwnCgroup {
    /// The cgroup's directory.
    pub fn dir(&self) -> PathBuf {
        match self.path.trim_matches('/') {
            "" => self.mount.clone(),
            relative => self.mount.join(relative),
        }
    }
}

/// This process's cgroup v2, or `None` where cgroup2 is not mounted.
pub fn own_cgroup() -> Option<OwnCgroup> {
    // Where cgroup2 is mounted is remembered once found (reading the mount
    // table is the slow part); the process's own cgroup, which can change,
    // is read each time.
    static MOUNT: OnceLock<PathBuf> = OnceLock::new();
    let mount = match MOUNT.get() {
        Some(mount) => mount.clone(),
        None => {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            // Not mounted: looked for again next time.
            let found = cgroup2_mount(&mountinfo)?;
            MOUNT.get_or_init(|| found).clone()
        }
    };
    Some(OwnCgroup { mount, path: current()? })
}

/// Finds the parent to use: `explicit` (which must be a cgroup v2 directory),
/// or the launcher's own cgroup when it hands out `memory` and `pids`.
/// `Ok(Err(reason))`: nothing is delegated; `Err`: `explicit` is unusable.
pub(crate) fn locate(explicit: Option<&Path>) -> Result<Result<Parent, String>, String> {
    let Some(own) = own_cgroup() else {
        let none = "no cgroup v2 hierarchy (cgroup2 is not mounted)".to_owned();
        return match explicit {
            Some(dir) => Err(format!("{}: {none}", dir.display())),
            None => Ok(Err(none)),
        };
    };
    let dir = explicit.map_or_else(|| own.dir(), Path::to_path_buf);
    let Ok(relative) = dir.strip_prefix(&own.mount) else {
        return Err(format!(
            "{} is not under the cgroup2 mount {}",
            dir.display(),
            own.mount.display()
        ));
    };
    let path = format!("/{}", relative.display()).replace("//", "/");
    let explicit = explicit.is_some();
    let control = match std::fs::read_to_string(dir.join("cgroup.subtree_control")) {
        Ok(control) => control,
        Err(e) if explicit => {
            return Err(format!("{}: not a cgroup v2 directory ({e})", dir.display()));
        }
        Err(e) => return Ok(Err(format!("{}: {e}", dir.display()))),
    };
    let enabled = |name: &str| control.split_whitespace().any(|c| c == name);
    let parent = Parent { path, memory: enabled("memory"), pids: enabled("pids"), dir };
    if explicit || (parent.memory && parent.pids) {
        Ok(Ok(parent))
    } else {
        Ok(Err(format!(
            "the launcher's cgroup {} hands children `{}`, not memory and pids",
            parent.path,
            control.trim()
        )))
    }
}

/// The mount point of the cgroup2 file system.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo
        .lines()
        .find(|l| l.split(" - ").nth(1).is_some_and(|rest| rest.starts_with("cgroup2 ")))
        .and_then(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
}

/// The `0::<path>` line of /proc/self/cgroup.
fn own_path(cgroup: &str) -> Option<&str> {
    cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The path /proc/self/cgroup shows for the calling process.
pub(crate) fn current() -> Option<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    own_path(&own).map(str::to_owned)
}

/// One sandbox's cgroup.
#[derive(Debug)]
pub(crate) struct Group {
    dir: PathBuf,
    /// Its path as /proc/self/cgroup shows it from inside.
    pub path: String,
    /// What was set and read back, or which limits have no controller.
    pub applied: Vec<String>,
    pub missing: Vec<String>,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Parent {
    /// Makes a child cgroup for one sandbox and sets the limits the profile
    /// has a controller for, each read back.
    pub(crate) fn create(&self, limits: &Limits) -> io::Result<Group> {
        let name =
            format!("warrant-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = self.dir.join(&name);
        std::fs::create_dir(&dir)?;
        // From here, dropping `group` (an early return included) removes it.
        let mut group = Group {
            path: format!("{}/{name}", self.path.trim_end_matches('/')),
            dir,
            applied: Vec::new(),
            missing: Vec::new(),
        };
        let wanted = [
            ("memory.max", self.memory, limits.memory_bytes, "memory"),
            ("pids.max", self.pids, limits.max_processes, "pids"),
        ];
        for (file, available, value, controller) in wanted {
            let Some(value) = value else { continue };
            if !available {
                group.missing.push(format!("{file} (no {controller} controller)"));
                continue;
            }
            let set = std::fs::write(group.dir.join(file), value.to_string())
                .and_then(|()| std::fs::read_to_string(group.dir.join(file)));
            // memory.max is kept in whole pages, rounded down.
            let close_enough = |read: &str| {
                read.trim().parse::<u64>().is_ok_and(|r| r <= value && value - r < 64 * 1024)
            };
            match set {
                Ok(read) if close_enough(&read) => {
                    group.applied.push(format!("{file}={}", read.trim()));
                }
                Ok(read) => {
                    return Err(io::Error::other(format!("{file} reads back {}", read.trim())));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(group)
    }
}

impl Group {
    /// `cgroup.procs`, open (close-on-exec) for the starter to join through.
    pub(crate) fn procs(&self) -> io::Result<OwnedFd> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
            .map(OwnedFd::from)
    }

    /// Kills every process in the cgroup (Linux 5.14+; ignored before).
    pub(crate) fn kill(&self) {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.kill"))
            .and_then(|mut f| f.write_all(b"1"));
    }

    /// Removes the cgroup once its last process has gone (the kernel may take
    /// a moment after the last exit to let go of it). Done on drop.
    fn remove(&self) {
        for _ in 0..50 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => return,
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn the_cgroup2_mount_and_the_own_path_are_found() {
        let mountinfo = "30 1 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                         35 1 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount(mountinfo), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(cgroup2_mount("30 1 0:26 / /x rw - cgroup cgroup rw\n"), None);
        let cgroup = "4:memory:/user.slice\n0::/user.slice/session-2.scope\n";
        assert_eq!(own_path(cgroup), Some("/user.slice/session-2.scope"));
        assert_eq!(own_path("4:memory:/\n"), None);
    }
}
