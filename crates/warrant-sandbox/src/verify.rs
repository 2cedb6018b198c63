//! Proof, not hope: before exec, the command's process observes each control
//! in the kernel's own state (/proc/self/status, /proc/self/ns, the mount
//! table, getrlimit, refused syscalls) rather than trusting return codes.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::context::Launch;
use crate::plan::{MountKind, NAMESPACES, PROC_READ_ONLY, Plan};
use crate::profile::NetworkMode;
use crate::report::{Control, ControlReport, ControlStatus, Failure, Report};
use crate::sys;

/// Evidence gathered so far, and the first required control that failed.
pub(crate) struct Evidence<'a> {
    plan: &'a Plan,
    controls: Vec<ControlReport>,
    failure: Option<Failure>,
}

impl<'a> Evidence<'a> {
    pub(crate) fn new(plan: &'a Plan) -> Self {
        Self { plan, controls: Vec::new(), failure: None }
    }

    fn push(&mut self, control: Control, status: ControlStatus, evidence: String) {
        let required = self.plan.requires(control);
        self.controls.push(ControlReport { control, required, status, evidence });
    }

    pub(crate) fn verified(&mut self, control: Control, evidence: impl Into<String>) {
        self.push(control, ControlStatus::Verified, evidence.into());
    }

    pub(crate) fn not_requested(&mut self, control: Control, why: &str) {
        self.push(control, ControlStatus::NotRequested, why.to_owned());
    }

    /// A control that could not be applied or verified: fatal when required.
    pub(crate) fn missing(&mut self, control: Control, step: &str, reason: String) {
        if self.plan.requires(control) {
            self.require(control, step, reason);
        } else {
            self.push(control, ControlStatus::Unavailable, reason);
        }
    }

    /// Fatal whatever the profile's best-effort list says.
    pub(crate) fn require(&mut self, control: Control, step: &str, reason: String) {
        if self.failure.is_none() {
            self.failure = Some(Failure { control: Some(control), step: step.to_owned(), reason });
        }
    }

    pub(crate) fn check(&mut self, control: Control, step: &str, result: Result<String, String>) {
        match result {
            Ok(evidence) => self.verified(control, evidence),
            Err(reason) => self.missing(control, step, reason),
        }
    }

    /// The report, with every control in [`Control::ALL`] order. A control that
    /// nothing examined counts as missing.
    pub(crate) fn into_report(
        mut self,
        landlock_abi: u32,
        env_names: Vec<String>,
    ) -> Result<Report, Failure> {
        for control in Control::ALL {
            if !self.controls.iter().any(|c| c.control == *control) && self.failure.is_none() {
                self.missing(*control, "verification", "not examined".to_owned());
            }
        }
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        self.controls.sort_by_key(|c| Control::ALL.iter().position(|a| *a == c.control));
        Ok(Report {
            controls: self.controls,
            landlock_abi,
            mounts: self.plan.mounts.iter().filter_map(|m| m.summary()).collect(),
            env_names,
            sandbox_pid: sys::getpid(),
        })
    }
}

/// `key:` line of /proc/self/status, trimmed.
pub(crate) fn status_field<'t>(status: &'t str, key: &str) -> Option<&'t str> {
    status.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(':').map(str::trim))
}

/// Checks everything except Landlock (recorded when applied) and RLIMIT_AS
/// (set after the report is serialised).
pub(crate) fn collect(launch: &Launch<'_>, ev: &mut Evidence<'_>, seccomp_installed: bool) {
    let plan = launch.plan;
    let pid = sys::getpid();
    ev.check(
        Control::Session,
        "getsid",
        match sys::getsid() {
            Ok(sid) if sid == pid => Ok(format!("session id = pid = {pid}")),
            other => Err(format!("getsid -> {other:?}, pid {pid}")),
        },
    );
    ev.check(
        Control::ParentDeathSignal,
        "prctl(PR_GET_PDEATHSIG)",
        match sys::parent_death_signal() {
            Ok(libc::SIGKILL) => Ok("SIGKILL (starter, init and command each armed)".to_owned()),
            other => Err(format!("{other:?}")),
        },
    );
    ev.check(Control::FileDescriptors, "list /proc/self/fd", file_descriptors(launch.report_fd));
    ev.check(Control::Environment, "inspect envp", environment(launch));
    namespaces(launch, ev);
    let mountinfo = read_proc("/proc/self/mountinfo");
    let mounts = parse_mountinfo(&mountinfo);
    ev.check(Control::PrivateRoot, "inspect root", private_root(plan, &mounts));
    ev.check(Control::ReadOnlyMounts, "inspect mount table", read_only_mounts(plan, &mounts));
    ev.check(Control::ResourceLimits, "getrlimit", resource_limits(plan));
    process_limit(plan, ev);
    cgroup(launch, ev);

    let status = read_proc("/proc/self/status");
    let caps: Vec<_> = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|key| (*key, status_field(&status, key).unwrap_or("?")))
        .collect();
    ev.check(
        Control::Capabilities,
        "read /proc/self/status",
        if caps.iter().all(|(_, v)| v.trim_start_matches('0').is_empty() && !v.is_empty()) {
            Ok("CapInh, CapPrm, CapEff, CapBnd, CapAmb all 0".to_owned())
        } else {
            Err(format!("{caps:?}"))
        },
    );
    ev.check(
        Control::NoNewPrivs,
        "read /proc/self/status",
        match status_field(&status, "NoNewPrivs") {
            Some("1") => Ok("NoNewPrivs: 1".to_owned()),
            other => Err(format!("NoNewPrivs: {other:?}")),
        },
    );
    if seccomp_installed {
        ev.check(Control::Seccomp, "read /proc/self/status and probe", seccomp(plan, &status));
    }
}

/// The sandbox's own cgroup: joined (as /proc/self/cgroup shows from inside)
/// and every limit the profile sets applied in it.
fn cgroup(launch: &Launch<'_>, ev: &mut Evidence<'_>) {
    if launch.plan.profile.limits.cgroup == crate::profile::CgroupMode::Off {
        ev.not_requested(Control::Cgroup, "the profile sets cgroup = \"off\"");
        return;
    }
    let Some(group) = &launch.cgroup else {
        let why = launch.no_cgroup.unwrap_or("no cgroup was made");
        ev.missing(
            Control::Cgroup,
            "find a delegated cgroup v2",
            format!("{why}; limits are rlimits"),
        );
        return;
    };
    let here = crate::cgroup::current();
    if here.as_deref() != Some(group.path) {
        let reason = format!("/proc/self/cgroup says {here:?}, expected {}", group.path);
        ev.missing(Control::Cgroup, "join the sandbox's cgroup", reason);
    } else if !group.missing.is_empty() {
        let reason = format!("in {}, but {}", group.path, group.missing.join(", "));
        ev.missing(Control::Cgroup, "set the limits", reason);
    } else if group.applied.is_empty() {
        ev.verified(
            Control::Cgroup,
            format!("in {}; the profile sets no memory or process limit", group.path),
        );
    } else {
        let applied = group.applied.join(", ");
        ev.verified(Control::Cgroup, format!("in {}; {applied} (set and read back)", group.path));
    }
}

/// A /proc file read whole (empty when unreadable, which the checks then
/// report). Its size is unknown ahead, so read in large pieces rather than
/// the small ones `read_to_string` starts with: each is a system call.
fn read_proc(path: &str) -> String {
    use std::io::Read;
    let mut text = String::with_capacity(16 * 1024);
    match std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => text,
        Err(_) => String::new(),
    }
}

fn errno_of(result: std::io::Result<impl Sized>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

fn file_descriptors(report_fd: i32) -> Result<String, String> {
    if !sys::is_cloexec(report_fd).unwrap_or(false) {
        return Err("the report pipe is not close-on-exec".to_owned());
    }
    // Since Linux 6.2 the size of /proc/self/fd is the number of open
    // descriptors: when it equals the number of expected ones that are open,
    // there is no other. (Before, the size is 0 and the listing decides.)
    let expected: Vec<i32> =
        [0, 1, 2, report_fd].into_iter().filter(|fd| sys::is_cloexec(*fd).is_ok()).collect();
    let counted = std::fs::metadata("/proc/self/fd").map(|m| m.len()).unwrap_or(0);
    if counted > 0 && usize::try_from(counted).ok() == Some(expected.len()) {
        return Ok(format!(
            "open: {expected:?} (the kernel counts {counted}); report pipe {report_fd} close-on-exec"
        ));
    }
    listed_descriptors(report_fd)
}

/// The same check by listing /proc/self/fd.
fn listed_descriptors(report_fd: i32) -> Result<String, String> {
    let entries = std::fs::read_dir("/proc/self/fd").map_err(|e| e.to_string())?;
    let mut extra = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        seen.insert(fd);
        if ![0, 1, 2, report_fd].contains(&fd) {
            extra.push((fd, std::fs::read_link(entry.path()).unwrap_or_default()));
        }
    }
    // The only extra descriptor allowed is read_dir's own handle on the directory.
    let own = |(_, target): &(i32, PathBuf)| target.starts_with("/proc/");
    if extra.len() > 1 || !extra.iter().all(own) {
        return Err(format!("unexpected descriptors {extra:?}"));
    }
    Ok(format!("open: {seen:?} minus the listing's own; report pipe {report_fd} close-on-exec"))
}

fn environment(launch: &Launch<'_>) -> Result<String, String> {
    let names = env_names(launch);
    let explicit = |name: &str| {
        launch.plan.profile.env.set.contains_key(name) || launch.granted.iter().any(|g| g == name)
    };
    if let Some(bad) = names.iter().find(|n| !explicit(n) && crate::env::denied_by(n).is_some()) {
        return Err(format!("`{bad}` is on the denylist"));
    }
    Ok(format!(
        "{} variables, none on the {}-entry denylist",
        names.len(),
        crate::tables::ENV_DENYLIST.len()
    ))
}

/// Names of the variables in the exec environment.
pub(crate) fn env_names(launch: &Launch<'_>) -> Vec<String> {
    launch
        .envp
        .strings()
        .iter()
        .filter_map(|s| s.to_str().ok()?.split_once('=').map(|(n, _)| n.to_owned()))
        .collect()
}

fn namespaces(launch: &Launch<'_>, ev: &mut Evidence<'_>) {
    let plan = launch.plan;
    for (name, control) in NAMESPACES {
        if *name == "net" && plan.network.mode == NetworkMode::Host {
            ev.not_requested(*control, "host network mode");
            continue;
        }
        let host = plan.host.namespaces.iter().find(|(n, _)| n == name).map(|(_, ino)| *ino);
        let mine = std::fs::metadata(format!("/proc/self/ns/{name}")).map(|m| m.ino());
        let result = match (host, mine) {
            (Some(host), Ok(mine)) if host != mine => {
                let ahead = if launch.made_ahead.is_some() && matches!(*name, "user" | "net") {
                    ", made ahead by the namespace pool"
                } else {
                    ""
                };
                Ok(format!("/proc/self/ns/{name} inode {mine} (launcher: {host}{ahead})"))
            }
            (host, mine) => Err(format!("inode {mine:?}, launcher's {host:?}")),
        };
        ev.check(*control, "stat /proc/self/ns", result);
    }
}

/// One line of /proc/self/mountinfo: where, with which per-mount options.
struct MountLine {
    point: PathBuf,
    read_only: bool,
}

fn unescape(field: &str) -> String {
    let mut out = Vec::new();
    let bytes = field.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (b, octal) {
            (b'\\', Some(value)) => {
                out.push(value);
                i += 4;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let point = fields.nth(4)?;
            let options = fields.next()?;
            Some(MountLine {
                point: PathBuf::from(unescape(point)),
                read_only: options.split(',').any(|o| o == "ro"),
            })
        })
        .collect()
}

/// The deepest planned mount at or above `point`.
fn covering<'p>(plan: &'p Plan, point: &Path) -> Option<&'p MountKind> {
    plan.mounts
        .iter()
        .filter(|op| op.is_mount() && point.starts_with(&op.target))
        .max_by_key(|op| op.target.components().count())
        .map(|op| &op.kind)
}

fn private_root(plan: &Plan, mounts: &[MountLine]) -> Result<String, String> {
    let root = std::fs::metadata("/").map_err(|e| e.to_string())?;
    if (root.dev(), root.ino()) == plan.host.root {
        return Err("/ is the launcher's root".to_owned());
    }
    if Path::new(crate::plan::OLD_ROOT).exists() {
        return Err("the host root is still reachable".to_owned());
    }
    let planned = |point: &Path| {
        point == Path::new("/")
            || plan.mounts.iter().any(|op| op.is_mount() && op.target == point)
            || matches!(
                covering(plan, point),
                Some(
                    MountKind::BindReadOnly { .. }
                        | MountKind::BindReadWrite { .. }
                        | MountKind::Proc
                )
            )
    };
    let unplanned: Vec<_> = mounts
        .iter()
        .filter(|m| !planned(&m.point))
        .map(|m| m.point.display().to_string())
        .collect();
    if !unplanned.is_empty() {
        return Err(format!("unplanned mounts {unplanned:?}"));
    }
    let masked = masks_hold(plan)?;
    Ok(format!(
        "root {}:{} differs from the launcher's; {} mounts, all planned; host root detached{masked}",
        root.dev(),
        root.ino(),
        mounts.len()
    ))
}

/// Every protected path inside a mount is covered by an empty mask: read
/// from here, a masked directory lists nothing and a masked file is empty.
fn masks_hold(plan: &Plan) -> Result<String, String> {
    let mut count = 0;
    for op in plan.mounts.iter().filter(|op| matches!(op.kind, MountKind::Mask { .. })) {
        let path = &op.target;
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("masked {shown}: {e}"))?;
        let empty = if meta.is_dir() {
            let mut entries =
                std::fs::read_dir(path).map_err(|e| format!("masked {shown}: {e}"))?;
            entries.next().is_none()
        } else {
            meta.len() == 0
        };
        if !empty {
            return Err(format!("protected path {shown} is visible"));
        }
        count += 1;
    }
    Ok(if count == 0 { String::new() } else { format!("; {count} protected paths masked, empty") })
}

fn read_only_mounts(plan: &Plan, mounts: &[MountLine]) -> Result<String, String> {
    let must_be_ro = |point: &Path| {
        point == Path::new("/")
            || PROC_READ_ONLY.iter().any(|p| point.starts_with(p))
            || matches!(
                covering(plan, point),
                Some(MountKind::BindReadOnly { .. } | MountKind::Mask { .. })
            )
    };
    let mut count = 0;
    for mount in mounts.iter().filter(|m| must_be_ro(&m.point)) {
        if !mount.read_only {
            return Err(format!("{} is writable", mount.point.display()));
        }
        count += 1;
    }
    Ok(format!(
        "{count} mounts read-only in /proc/self/mountinfo (system dirs, /etc entries, read-only paths, /proc/sys, /)"
    ))
}

fn resource_limits(plan: &Plan) -> Result<String, String> {
    let mut seen = Vec::new();
    for limit in plan.rlimits.iter().filter(|l| l.resource != libc::RLIMIT_NPROC) {
        let actual = sys::getrlimit(limit.resource).map_err(|e| format!("{}: {e}", limit.name))?;
        if actual != (limit.soft, limit.hard) {
            return Err(format!(
                "{} is {actual:?}, expected {:?}",
                limit.name,
                (limit.soft, limit.hard)
            ));
        }
        seen.push(format!("{}={}", limit.name, limit.soft));
    }
    if let Some(limit) = &plan.address_space {
        seen.push(format!("{}={} (set last, read back before exec)", limit.name, limit.soft));
    }
    Ok(seen.join(", "))
}

fn process_limit(plan: &Plan, ev: &mut Evidence<'_>) {
    let Some(max) = plan.profile.limits.max_processes else {
        ev.not_requested(Control::ProcessLimit, "no max_processes in the profile");
        return;
    };
    let nproc = sys::getrlimit(libc::RLIMIT_NPROC).ok();
    let pid_max: Option<u64> = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let ns_pid_max = pid_max.filter(|v| Some(*v) == plan.pid_max);
    let rlimit_ok = nproc == Some((max, max));
    let result = match (rlimit_ok, plan.host.uid, ns_pid_max) {
        (true, 0, Some(p)) => {
            Ok(format!("RLIMIT_NPROC={max} (not binding for uid 0); PID namespace pid_max={p}"))
        }
        (true, 0, None) => Err(format!(
            "running as uid 0, RLIMIT_NPROC does not bind and pid_max is {pid_max:?} (needs Linux >= 6.14)"
        )),
        (true, _, Some(p)) => Ok(format!("RLIMIT_NPROC={max}; PID namespace pid_max={p}")),
        (true, _, None) => Ok(format!("RLIMIT_NPROC={max}")),
        (false, _, _) => Err(format!("RLIMIT_NPROC is {nproc:?}, expected {max}")),
    };
    ev.check(Control::ProcessLimit, "getrlimit and read pid_max", result);
}

fn seccomp(plan: &Plan, status: &str) -> Result<String, String> {
    let mode = status_field(status, "Seccomp");
    let filters: u32 =
        status_field(status, "Seccomp_filters").and_then(|v| v.parse().ok()).unwrap_or(0);
    // The sandbox adds exactly one filter to those the launcher inherited.
    let expected = plan.host.seccomp_filters + 1;
    if mode != Some("2") || filters < expected {
        return Err(format!(
            "Seccomp: {mode:?}, Seccomp_filters: {filters} (expected >= {expected})"
        ));
    }
    // unshare(0) is a no-op that succeeds without the filter.
    if errno_of(sys::unshare(0)) != Some(libc::EPERM) {
        return Err("unshare(0) was not refused".to_owned());
    }
    if errno_of(sys::socket(libc::AF_NETLINK, libc::SOCK_RAW)) != Some(libc::EPERM) {
        return Err("socket(AF_NETLINK) was not refused".to_owned());
    }
    let mut evidence = format!(
        "Seccomp: 2, Seccomp_filters: {filters}; unshare(0) -> EPERM; socket(AF_NETLINK) -> EPERM; {} rules",
        plan.seccomp_denied.len()
    );
    if plan.network.mode == NetworkMode::None {
        if errno_of(sys::socket(libc::AF_INET, libc::SOCK_STREAM)) != Some(libc::EPERM) {
            return Err("socket(AF_INET) was not refused in `none` mode".to_owned());
        }
        evidence.push_str("; socket(AF_INET) -> EPERM");
    }
    Ok(evidence)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn mountinfo_lines_are_parsed_with_escapes() {
        let text = "36 35 98:0 / /mnt/with\\040space ro,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /tmp rw,nosuid - tmpfs tmpfs rw\n";
        let lines = parse_mountinfo(text);
        assert_eq!(lines[0].point, Path::new("/mnt/with space"));
        assert!(lines[0].read_only);
        assert!(!lines[1].read_only);
    }

    #[test]
    fn status_fields_are_found_by_exact_key() {
        let status = "Seccomp:\t2\nSeccomp_filters:\t3\nNoNewPrivs:\t1\n";
        assert_eq!(status_field(status, "Seccomp"), Some("2"));
        assert_eq!(status_field(status, "Seccomp_filters"), Some("3"));
        assert_eq!(status_field(status, "NoNewPrivs"), Some("1"));
        assert_eq!(status_field(status, "Missing"), None);
    }

    #[test]
    fn a_stray_descriptor_is_caught_by_the_count_and_by_the_listing() {
        use std::os::fd::AsRawFd;
        let (read, write) = sys::pipe_cloexec().unwrap();
        let fd = write.as_raw_fd();
        // In a child, so closing every other descriptor harms nothing here.
        match sys::fork().unwrap() {
            sys::Fork::Child => {
                let mut keep = vec![0, 1, 2, fd];
                keep.sort_unstable();
                let _ = crate::context::close_all_except(&keep);
                let clean = [file_descriptors(fd).is_ok(), listed_descriptors(fd).is_ok()];
                let stray = std::fs::File::open("/dev/null");
                let caught = [file_descriptors(fd).is_err(), listed_descriptors(fd).is_err()];
                let verdict: Vec<u8> = clean
                    .iter()
                    .chain(&caught)
                    .map(|ok| if *ok { b'y' } else { b'n' })
                    .chain([if stray.is_ok() { b'y' } else { b'n' }])
                    .collect();
                let _ = sys::write_all(fd, &verdict);
                sys::exit_now(0)
            }
            sys::Fork::Parent(pid) => {
                drop(write);
                let mut verdict = String::new();
                std::io::Read::read_to_string(&mut std::fs::File::from(read), &mut verdict)
                    .unwrap();
                sys::waitpid(pid, false).unwrap();
                assert_eq!(verdict, "yyyyy", "clean count, clean listing, caught by both, opened");
            }
        }
    }
}
