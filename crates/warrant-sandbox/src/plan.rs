//! Resolving a [`SandboxSpec`] into a [`Plan`]: every path canonicalised, every
//! string converted, the seccomp filter compiled, the launcher's own namespace
//! identities recorded. The forked stages then only execute the plan.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use seccompiler::BpfProgram;

use crate::error::LaunchError;
use crate::profile::{Access, NetworkMode, NetworkPolicy, Profile, SandboxSpec};
use crate::protect::Guard;
use crate::report::{Control, MountSummary};
use crate::tables::{DEV_NODES, DEV_SYMLINKS, ETC_ENTRIES, FORBIDDEN_MOUNT_ROOTS, SYSTEM_DIRS};

/// Where the new root is assembled, and where the host's root is reachable
/// while it is (see `mounts::build_root`).
pub(crate) const NEW_ROOT: &str = "/newroot";
pub(crate) const OLD_ROOT: &str = "/oldroot";
/// A file in the sandbox's root that Landlock must refuse to open: its denial
/// is the proof that the file-system ruleset is in force.
pub(crate) const LANDLOCK_PROBE: &str = "/.warrant-landlock-probe";
/// /proc entries writable by uid 0 through plain file permissions (sysctls,
/// sysrq). When the launcher runs as root, the sandbox's uid is the host's
/// uid 0, so these are bind-mounted read-only over themselves.
pub(crate) const PROC_READ_ONLY: &[&str] =
    &["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"];
/// /etc files up to this size are copied into the root rather than bind-mounted.
const MAX_COPY: u64 = 256 * 1024;
/// HOME when the launcher's is unusable.
const FALLBACK_HOME: &str = "/home/sandbox";
/// The namespaces the launcher compares, as named in /proc/self/ns.
pub(crate) const NAMESPACES: &[(&str, Control)] = &[
    ("user", Control::UserNamespace),
    ("mnt", Control::MountNamespace),
    ("pid", Control::PidNamespace),
    ("net", Control::NetworkNamespace),
    ("ipc", Control::IpcNamespace),
    ("uts", Control::UtsNamespace),
];

/// What one mount-table entry of the new root is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MountKind {
    BindReadOnly {
        file: bool,
    },
    BindReadWrite {
        file: bool,
    },
    /// A host device node (no `nodev`).
    Device,
    /// A private, writable tmpfs.
    Tmpfs {
        options: String,
    },
    Proc,
    Symlink {
        to: CString,
    },
    /// An empty directory in the root tmpfs.
    Dir,
    /// A small host file copied into the (read-only) root tmpfs: cheaper than a
    /// bind mount to set up and to tear down. Read when the plan is made, so
    /// starting a sandbox only writes it.
    Copy {
        contents: Vec<u8>,
    },
    /// An empty, read-only directory (a tmpfs) or file mounted over a
    /// protected path inside another mount (see `protect.rs`).
    Mask {
        file: bool,
    },
}

impl MountKind {
    /// Whether the target is a file (as opposed to a directory); symlinks
    /// and plain directories get no Landlock rule of their own.
    pub(crate) fn is_file(&self) -> bool {
        match self {
            MountKind::BindReadOnly { file } | MountKind::BindReadWrite { file } => *file,
            MountKind::Device | MountKind::Copy { .. } => true,
            MountKind::Mask { file } => *file,
            MountKind::Tmpfs { .. }
            | MountKind::Proc
            | MountKind::Symlink { .. }
            | MountKind::Dir => false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct MountOp {
    pub kind: MountKind,
    /// Path inside the sandbox.
    pub target: PathBuf,
    /// `target` under [`NEW_ROOT`].
    pub staged: CString,
    /// Host path under [`OLD_ROOT`] for binds.
    pub source: Option<CString>,
}

impl MountOp {
    pub(crate) fn summary(&self) -> Option<MountSummary> {
        let kind = match self.kind {
            MountKind::BindReadOnly { .. } => "ro",
            MountKind::BindReadWrite { .. } => "rw",
            MountKind::Device => "dev",
            MountKind::Tmpfs { .. } => "tmpfs",
            MountKind::Proc => "proc",
            MountKind::Symlink { .. } => "symlink",
            MountKind::Copy { .. } => "copy",
            MountKind::Mask { .. } => "mask",
            MountKind::Dir => return None,
        };
        Some(MountSummary { path: self.target.display().to_string(), kind: kind.to_owned() })
    }

    /// Whether the op creates an entry in the mount table.
    pub(crate) fn is_mount(&self) -> bool {
        !matches!(self.kind, MountKind::Symlink { .. } | MountKind::Dir | MountKind::Copy { .. })
    }
}

/// The launcher's own identity, to prove the sandbox's differs.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostIdentity {
    pub uid: u32,
    pub gid: u32,
    pub namespaces: Vec<(&'static str, u64)>,
    pub root: (u64, u64),
    pub seccomp_filters: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Rlimit {
    pub name: &'static str,
    pub resource: libc::__rlimit_resource_t,
    pub soft: u64,
    pub hard: u64,
}

/// Everything the forked stages need, computed before fork.
pub(crate) struct Plan {
    pub profile: Profile,
    pub mounts: Vec<MountOp>,
    pub home: PathBuf,
    pub workspace: PathBuf,
    pub cwd: PathBuf,
    pub network: NetworkPolicy,
    pub proxy_socket: Option<PathBuf>,
    /// Set just before exec (see `command::run`).
    pub address_space: Option<Rlimit>,
    /// Set early, in the order of the setup.
    pub rlimits: Vec<Rlimit>,
    /// pid_max written into the sandbox's PID namespace.
    pub pid_max: Option<u64>,
    pub wall_clock: Option<Duration>,
    pub seccomp: BpfProgram,
    pub seccomp_denied: Vec<String>,
    pub host: HostIdentity,
    pub cgroup: CgroupPlan,
}

/// Where each sandbox's cgroup is made, if anywhere.
#[derive(Clone, Debug)]
pub(crate) enum CgroupPlan {
    /// The profile says `cgroup = "off"`.
    Off,
    /// Nothing is delegated: why.
    Unavailable(String),
    Parent(crate::cgroup::Parent),
}

impl Plan {
    pub(crate) fn resolve(spec: &SandboxSpec) -> Result<Self, LaunchError> {
        let profile = spec.profile.clone();
        profile.validate()?;
        let homes = crate::protect::launcher_homes();
        let host_home = homes.first().cloned();
        let workspace = canonical_dir(&spec.workspace)?;
        let home = sandbox_home(host_home.as_deref());

        let tmp_size =
            profile.limits.memory_bytes.map(|b| format!(",size={b}")).unwrap_or_default();
        let mut ops = system_mounts(&tmp_size)?;
        if home != workspace {
            let options = format!("mode=0700{tmp_size}");
            ops.push(op(MountKind::Tmpfs { options }, &home, None)?);
        }
        let (user_ops, mut binds) = user_mounts(&profile, host_home.as_deref())?;
        ops.extend(user_ops);
        check_user_target(&workspace)?;
        ops.push(op(MountKind::BindReadWrite { file: false }, &workspace, Some(&workspace))?);
        binds.push((workspace.clone(), workspace.clone(), true));
        let protected = crate::protect::protected_paths(&homes, &spec.protected);
        // The home the private home is mounted over, if it is the real one.
        let covered = host_home.as_deref().filter(|h| *h == home.as_path());
        let binds: Vec<_> = binds
            .iter()
            .map(|(target, source, writable)| crate::protect::Bind {
                target,
                source,
                writable: *writable,
            })
            .collect();
        for guard in crate::protect::guards(&binds, &protected, &homes, covered)? {
            // The private home hides what lies beneath it; a declared path
            // already mounted there pins it as well.
            let target = guard.target();
            let hidden = home != workspace
                && target.starts_with(&home)
                && !binds
                    .iter()
                    .any(|b| b.target.starts_with(&home) && target.starts_with(b.target));
            let pinned =
                matches!(&guard, Guard::Pin { .. }) && ops.iter().any(|o| o.target == target);
            if hidden || pinned {
                continue;
            }
            ops.push(match guard {
                Guard::Mask { target, file } => op(MountKind::Mask { file }, &target, None)?,
                Guard::Pin { target, source, writable: true } => {
                    op(MountKind::BindReadWrite { file: false }, &target, Some(&source))?
                }
                Guard::Pin { target, source, writable: false } => {
                    op(MountKind::BindReadOnly { file: false }, &target, Some(&source))?
                }
            });
        }

        let mut targets = std::collections::HashSet::with_capacity(ops.len());
        if let Some(twice) = ops.iter().find(|op| !targets.insert(&op.target)) {
            return Err(path_err(&twice.target, "is mounted twice".into()));
        }
        // Deeper mounts go on top of shallower ones; equal depths keep their order.
        ops.sort_by_cached_key(|op| op.target.components().count());

        let cwd = match &spec.cwd {
            Some(cwd) => lexical(cwd).ok_or_else(|| path_err(cwd, "must be absolute".into()))?,
            None => workspace.clone(),
        };
        let proxy_socket = match profile.network.mode {
            NetworkMode::Proxy => {
                Some(spec.proxy_socket.clone().ok_or(LaunchError::MissingProxySocket)?)
            }
            NetworkMode::None | NetworkMode::Host => None,
        };
        let limits = &profile.limits;
        let mut rlimits =
            vec![Rlimit { name: "RLIMIT_CORE", resource: libc::RLIMIT_CORE, soft: 0, hard: 0 }];
        let mut push = |name, resource, value: Option<u64>, slack: u64| {
            if let Some(v) = value {
                rlimits.push(Rlimit { name, resource, soft: v, hard: v.saturating_add(slack) });
            }
        };
        push("RLIMIT_NPROC", libc::RLIMIT_NPROC, limits.max_processes, 0);
        // One second of slack: SIGXCPU first, SIGKILL if it is ignored.
        push("RLIMIT_CPU", libc::RLIMIT_CPU, limits.cpu_seconds, 1);
        push("RLIMIT_FSIZE", libc::RLIMIT_FSIZE, limits.file_size_bytes, 0);
        push("RLIMIT_NOFILE", libc::RLIMIT_NOFILE, limits.open_files, 0);
        let address_space = limits.memory_bytes.map(|v| Rlimit {
            name: "RLIMIT_AS",
            resource: libc::RLIMIT_AS,
            soft: v,
            hard: v,
        });
        // The kernel's floor for pid_max is 301; the B and C processes take two pids.
        let pid_max = limits.max_processes.map(|n| n.saturating_add(3).max(301));

        let mode = profile.network.mode;
        let cgroup = match limits.cgroup {
            crate::profile::CgroupMode::Off => CgroupPlan::Off,
            _ => match crate::cgroup::locate(spec.cgroup_parent.as_deref()) {
                Ok(Ok(parent)) => CgroupPlan::Parent(parent),
                Ok(Err(reason)) => CgroupPlan::Unavailable(reason),
                Err(reason) => {
                    let path = spec.cgroup_parent.clone().unwrap_or_default();
                    return Err(LaunchError::Path { path, reason });
                }
            },
        };
        Ok(Plan {
            mounts: ops,
            home,
            workspace,
            cwd,
            network: profile.network.clone(),
            proxy_socket,
            address_space,
            rlimits,
            pid_max,
            wall_clock: limits.wall_clock_seconds.map(Duration::from_secs),
            seccomp: crate::seccomp::compile(mode)?,
            seccomp_denied: crate::seccomp::denied_names(mode),
            host: HostIdentity::current(),
            cgroup,
            profile,
        })
    }

    pub(crate) fn requires(&self, control: Control) -> bool {
        self.profile.requires(control)
    }
}

impl HostIdentity {
    fn current() -> Self {
        let namespaces = NAMESPACES
            .iter()
            .filter_map(|(name, _)| {
                std::fs::metadata(format!("/proc/self/ns/{name}")).ok().map(|m| (*name, m.ino()))
            })
            .collect();
        let root = std::fs::metadata("/").map(|m| (m.dev(), m.ino())).unwrap_or_default();
        let seccomp_filters = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                crate::verify::status_field(&s, "Seccomp_filters").and_then(|v| v.parse().ok())
            })
            .unwrap_or(0);
        HostIdentity {
            uid: crate::sys::geteuid(),
            gid: crate::sys::getegid(),
            namespaces,
            root,
            seccomp_filters,
        }
    }
}

/// The system directories, /etc, /dev, /dev/shm, /proc and /tmp.
fn system_mounts(tmp_size: &str) -> Result<Vec<MountOp>, LaunchError> {
    let mut ops = Vec::new();
    for dir in SYSTEM_DIRS {
        let path = Path::new(dir.path);
        let Ok(meta) = path.symlink_metadata() else { continue };
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(path).map_err(|e| path_err(path, e.to_string()))?;
            ops.push(op(MountKind::Symlink { to: c_path(&to)? }, path, None)?);
        } else if meta.is_dir() {
            ops.push(op(MountKind::BindReadOnly { file: false }, path, Some(path))?);
        }
    }
    ops.push(op(MountKind::Dir, Path::new("/etc"), None)?);
    for entry in ETC_ENTRIES {
        let path = Path::new(entry.path);
        // Follows symlinks, as the copy and the bind both do.
        let Ok(meta) = path.metadata() else { continue };
        if meta.is_file() && meta.len() <= MAX_COPY {
            // A copy needs only the contents, not the canonical path.
            let contents = std::fs::read(path).map_err(|e| path_err(path, e.to_string()))?;
            ops.push(op(MountKind::Copy { contents }, path, None)?);
        } else {
            let Ok(source) = path.canonicalize() else { continue };
            ops.push(op(MountKind::BindReadOnly { file: !meta.is_dir() }, path, Some(&source))?);
        }
    }
    // A directory of the root, read-only with it: only the device nodes bound
    // onto it, its symlinks and /dev/shm are usable.
    ops.push(op(MountKind::Dir, Path::new("/dev"), None)?);
    for node in DEV_NODES {
        let path = Path::new(node.path);
        if path.exists() {
            ops.push(op(MountKind::Device, path, Some(path))?);
        }
    }
    for (link, to) in DEV_SYMLINKS {
        ops.push(op(MountKind::Symlink { to: c_path(Path::new(to))? }, Path::new(link), None)?);
    }
    let shared_tmp = format!("mode=1777{tmp_size}");
    ops.push(op(MountKind::Tmpfs { options: shared_tmp.clone() }, Path::new("/dev/shm"), None)?);
    ops.push(op(MountKind::Proc, Path::new("/proc"), None)?);
    ops.push(op(MountKind::Tmpfs { options: shared_tmp }, Path::new("/tmp"), None)?);
    Ok(ops)
}

/// The host paths a sandbox gets: (target, canonical source, writable) of
/// each bind.
type Binds = Vec<(PathBuf, PathBuf, bool)>;

/// The profile's extra paths, and each one's bind.
fn user_mounts(
    profile: &Profile,
    host_home: Option<&Path>,
) -> Result<(Vec<MountOp>, Binds), LaunchError> {
    let mut ops = Vec::new();
    let mut binds = Vec::new();
    for rule in &profile.paths {
        let Some(target) = expand(&rule.path, host_home) else {
            if rule.optional {
                continue;
            }
            return Err(path_err(Path::new(&rule.path), "`~` needs the launcher's HOME".into()));
        };
        let source = match target.canonicalize() {
            Ok(source) => source,
            Err(_) if rule.optional => continue,
            Err(e) => return Err(path_err(&target, e.to_string())),
        };
        check_user_target(&target)?;
        let file = !source.is_dir();
        let kind = match rule.access {
            Access::ReadOnly => MountKind::BindReadOnly { file },
            Access::ReadWrite => MountKind::BindReadWrite { file },
        };
        ops.push(op(kind, &target, Some(&source))?);
        binds.push((target, source, rule.access == Access::ReadWrite));
    }
    Ok((ops, binds))
}

fn path_err(path: &Path, reason: String) -> LaunchError {
    LaunchError::Path { path: path.to_path_buf(), reason }
}

fn c_path(path: &Path) -> Result<CString, LaunchError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| LaunchError::NulByte(path.display().to_string()))
}

/// `prefix` + `path` (absolute) as a C string.
fn under(prefix: &str, path: &Path) -> Result<CString, LaunchError> {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend_from_slice(path.as_os_str().as_bytes());
    CString::new(bytes).map_err(|_| LaunchError::NulByte(path.display().to_string()))
}

fn op(kind: MountKind, target: &Path, source: Option<&Path>) -> Result<MountOp, LaunchError> {
    Ok(MountOp {
        kind,
        target: target.to_path_buf(),
        staged: under(NEW_ROOT, target)?,
        source: source.map(|s| under(OLD_ROOT, s)).transpose()?,
    })
}

/// Absolute path with `.` and `..` resolved lexically.
pub(crate) fn lexical(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// `~/x` against the launcher's HOME; absolute paths normalised.
fn expand(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix("~/") {
        Some(rest) => lexical(&home?.join(rest)),
        None => lexical(Path::new(path)),
    }
}

fn canonical_dir(path: &Path) -> Result<PathBuf, LaunchError> {
    let canonical = path.canonicalize().map_err(|e| path_err(path, e.to_string()))?;
    if !canonical.is_dir() {
        return Err(path_err(path, "is not a directory".into()));
    }
    Ok(canonical)
}

/// A user path may not be `/`, nor inside the trees the sandbox replaces, nor a
/// system directory or an ancestor of one (that would make it writable or hide it).
fn check_user_target(target: &Path) -> Result<(), LaunchError> {
    if target == Path::new("/") {
        return Err(path_err(target, "the host's root cannot be mounted".into()));
    }
    for forbidden in FORBIDDEN_MOUNT_ROOTS {
        let root = Path::new(forbidden.path);
        let hit = if forbidden.path == "/tmp" { target == root } else { target.starts_with(root) };
        if hit {
            return Err(path_err(target, forbidden.reason.to_owned()));
        }
    }
    for system in SYSTEM_DIRS.iter().map(|s| s.path).chain(["/etc"]) {
        if Path::new(system).starts_with(target) {
            return Err(path_err(
                target,
                format!("would replace the read-only system directory `{system}`"),
            ));
        }
    }
    Ok(())
}

/// The sandbox's HOME: the launcher's, where it really is (so `~/.cargo`
/// binds line up, and a workspace around it finds it covered), as an empty
/// tmpfs; a fixed path when the launcher's is unusable. The home itself is
/// never the workspace (`protect::guards` refuses it).
fn sandbox_home(host_home: Option<&Path>) -> PathBuf {
    host_home
        .and_then(lexical)
        .filter(|home| check_user_target(home).is_ok())
        .unwrap_or_else(|| PathBuf::from(FALLBACK_HOME))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn lexical_resolves_dots() {
        assert_eq!(lexical(Path::new("/a/./b/../c")).unwrap(), Path::new("/a/c"));
        assert!(lexical(Path::new("rel")).is_none());
    }

    #[test]
    fn user_targets_cannot_cover_system_or_host_socket_trees() {
        for bad in ["/", "/usr", "/run/docker.sock", "/var/run", "/proc/1", "/sys", "/tmp", "/etc"]
        {
            assert!(check_user_target(Path::new(bad)).is_err(), "{bad}");
        }
        for good in ["/tmp/ws", "/home/u/project", "/usr/src/project", "/opt/tool"] {
            assert!(check_user_target(Path::new(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_path_mounted_twice_is_refused_and_deeper_mounts_come_later() {
        let workspace = tempfile::tempdir().unwrap();
        let extra = tempfile::tempdir().unwrap();
        let rule = |access| crate::profile::PathRule {
            path: extra.path().display().to_string(),
            access,
            optional: false,
            reason: "test".into(),
        };
        let mut profile = Profile::builtin("strict").unwrap();
        profile.paths = vec![rule(Access::ReadOnly), rule(Access::ReadWrite)];
        let spec = SandboxSpec::new(profile.clone(), workspace.path());
        match Plan::resolve(&spec) {
            Err(LaunchError::Path { path, reason }) => {
                assert_eq!(path, extra.path().canonicalize().unwrap());
                assert_eq!(reason, "is mounted twice");
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a path mounted twice was accepted"),
        }
        profile.paths.pop();
        let plan = Plan::resolve(&SandboxSpec::new(profile, workspace.path())).unwrap();
        let depths: Vec<usize> =
            plan.mounts.iter().map(|op| op.target.components().count()).collect();
        assert!(depths.is_sorted(), "{depths:?}");
        // Equal depths keep the tables' order: /dev's nodes before /dev/shm.
        let position =
            |target: &str| plan.mounts.iter().position(|op| op.target == Path::new(target));
        assert!(position("/dev/null") < position("/dev/shm"));
    }

    #[test]
    fn home_falls_back_when_unusable() {
        assert_eq!(sandbox_home(Some(Path::new("/root"))), Path::new("/root"));
        assert_eq!(sandbox_home(Some(Path::new("/"))), Path::new(FALLBACK_HOME));
        assert_eq!(sandbox_home(Some(Path::new("/usr"))), Path::new(FALLBACK_HOME));
        assert_eq!(sandbox_home(None), Path::new(FALLBACK_HOME));
    }
}
