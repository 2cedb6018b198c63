//! Building the sandbox's root (run by the sandbox's init, inside the new user,
//! mount and PID namespaces).
//!
//! The host's paths must stay reachable while the new root is assembled, and
//! the staging area must not hide any of them (a workspace may live in /tmp).
//! So, as bubblewrap does: mount a small tmpfs, `pivot_root` into it with the
//! host's root at /oldroot, assemble the new root at /newroot from
//! `/oldroot/<path>` sources, detach /oldroot, and `pivot_root` into /newroot.

use std::ffi::{CStr, CString};
use std::io;
use std::path::{Path, PathBuf};

use crate::plan::{LANDLOCK_PROBE, MountKind, MountOp, NEW_ROOT, PROC_READ_ONLY, Plan};
use crate::report::{Control, Failure};
use crate::sys;

/// The empty file bound over each protected file (see `protect.rs`), in the
/// staging root.
const MASK_SOURCE: &str = "/.warrant-empty";

fn failure(control: Control, step: impl Into<String>, err: &io::Error) -> Failure {
    Failure { control: Some(control), step: step.into(), reason: err.to_string() }
}

fn root(step: &'static str) -> impl FnOnce(io::Error) -> Failure {
    move |e| failure(Control::PrivateRoot, step, &e)
}

/// Assembles the root described by `plan.mounts` and makes it the process's root.
pub(crate) fn build_root(plan: &Plan) -> Result<(), Failure> {
    // Nothing we mount may propagate back to the host.
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .map_err(root("make / private"))?;
    sys::mount(
        Some(c"tmpfs"),
        c"/tmp",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(c"mode=0755,size=64k"),
    )
    .map_err(root("mount staging tmpfs"))?;
    std::env::set_current_dir("/tmp").map_err(root("chdir staging"))?;
    std::fs::create_dir("newroot").map_err(root("mkdir newroot"))?;
    std::fs::create_dir("oldroot").map_err(root("mkdir oldroot"))?;
    sys::pivot_root(c".", c"oldroot").map_err(root("pivot_root into staging"))?;
    std::env::set_current_dir("/").map_err(root("chdir /"))?;
    sys::mount(
        Some(c"tmpfs"),
        c"/newroot",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(c"mode=0755,size=4m"),
    )
    .map_err(root("mount root tmpfs"))?;

    if plan.mounts.iter().any(|op| op.kind == (MountKind::Mask { file: true })) {
        // The source of every file mask: empty, read-only, in the staging
        // tmpfs (kept alive by the binds after the staging is detached).
        std::fs::write(MASK_SOURCE, b"").map_err(root("create the mask file"))?;
    }
    let mut dirs = Existing(vec![PathBuf::from(NEW_ROOT)]);
    for op in &plan.mounts {
        apply(op, &mut dirs)?;
    }
    if let Some(pid_max) = plan.pid_max {
        // Best effort here (Linux < 6.14 has one global pid_max); the command's
        // verification reads the value back and decides.
        let _ = std::fs::write("/newroot/proc/sys/kernel/pid_max", pid_max.to_string());
    }
    for path in PROC_READ_ONLY {
        let staged = format!("{NEW_ROOT}{path}");
        if Path::new(&staged).exists() {
            let staged = CString::new(staged).unwrap_or_default();
            let ro =
                |e: io::Error| failure(Control::ReadOnlyMounts, format!("read-only {path}"), &e);
            sys::mount(Some(&staged), &staged, None, libc::MS_BIND | libc::MS_REC, None)
                .map_err(ro)?;
            read_only(&staged, true).map_err(ro)?;
        }
    }
    let probe = format!("{NEW_ROOT}{LANDLOCK_PROBE}");
    std::fs::write(&probe, b"landlock probe: unreadable inside the sandbox\n")
        .map_err(root("write landlock probe"))?;

    sys::umount_detach(c"/oldroot").map_err(root("detach the host root"))?;
    std::env::set_current_dir(NEW_ROOT).map_err(root("chdir newroot"))?;
    sys::pivot_root(c".", c".").map_err(root("pivot_root into newroot"))?;
    sys::umount_detach(c".").map_err(root("detach staging"))?;
    std::env::set_current_dir("/").map_err(root("chdir /"))?;
    sys::mount(
        None,
        c"/",
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        None,
    )
    .map_err(|e| failure(Control::ReadOnlyMounts, "remount / read-only", &e))
}

/// Directories of the new root known to exist, so that each entry does not
/// first try to create its parent again (a mkdir and a stat each time). Ops
/// run shallowest first, so nothing mounted later hides a directory listed
/// here.
struct Existing(Vec<PathBuf>);

impl Existing {
    fn ensure(&mut self, dir: &Path) -> io::Result<()> {
        if self.0.iter().any(|known| known == dir) {
            return Ok(());
        }
        std::fs::create_dir_all(dir)?;
        self.0.push(dir.to_path_buf());
        Ok(())
    }

    fn parent_of(&mut self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(parent) => self.ensure(parent),
            None => Ok(()),
        }
    }
}

fn apply(op: &MountOp, dirs: &mut Existing) -> Result<(), Failure> {
    let staged = op.staged.as_c_str();
    let staged_path = Path::new(staged.to_str().unwrap_or_default());
    let step = |what: &str| format!("{what} {}", op.target.display());
    let root = |what: &'static str| {
        let step = step(what);
        move |e: io::Error| failure(Control::PrivateRoot, step, &e)
    };
    match &op.kind {
        MountKind::Dir => dirs.ensure(staged_path).map_err(root("mkdir")),
        MountKind::Copy { contents } => {
            use std::io::Write;
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            dirs.parent_of(staged_path).map_err(root("mkdir parent of"))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(staged_path)
                .map_err(root("create"))?;
            file.write_all(contents).map_err(root("write"))?;
            // Whatever the umask: readable by all, writable by none.
            file.set_permissions(std::fs::Permissions::from_mode(0o444)).map_err(root("chmod"))
        }
        MountKind::Symlink { to } => {
            dirs.parent_of(staged_path).map_err(root("mkdir parent of"))?;
            std::os::unix::fs::symlink(Path::new(to.to_str().unwrap_or_default()), staged_path)
                .map_err(root("symlink"))
        }
        MountKind::Tmpfs { options, .. } => {
            dirs.ensure(staged_path).map_err(root("mkdir"))?;
            let options = CString::new(options.as_bytes()).unwrap_or_default();
            sys::mount(
                Some(c"tmpfs"),
                staged,
                Some(c"tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV,
                Some(&options),
            )
            .map_err(root("mount tmpfs"))
        }
        MountKind::Proc => {
            dirs.ensure(staged_path).map_err(root("mkdir"))?;
            sys::mount(
                Some(c"proc"),
                staged,
                Some(c"proc"),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                None,
            )
            .map_err(root("mount proc"))
        }
        MountKind::BindReadOnly { file } | MountKind::BindReadWrite { file } => {
            let source = op.source.as_deref().unwrap_or(c"");
            make_mountpoint(staged_path, *file, dirs).map_err(root("create mountpoint"))?;
            sys::mount(Some(source), staged, None, libc::MS_BIND | libc::MS_REC, None)
                .map_err(root("bind"))?;
            let readonly = matches!(op.kind, MountKind::BindReadOnly { .. });
            read_only_or_nosuid(staged, readonly)
                .map_err(|e| failure(Control::ReadOnlyMounts, step("restrict"), &e))
        }
        MountKind::Mask { file: false } => {
            dirs.ensure(staged_path).map_err(root("mkdir"))?;
            sys::mount(
                Some(c"tmpfs"),
                staged,
                Some(c"tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                Some(c"mode=0500,size=4k,nr_inodes=1"),
            )
            .map_err(root("mask"))?;
            read_only(staged, false)
                .map_err(|e| failure(Control::ReadOnlyMounts, step("restrict"), &e))
        }
        MountKind::Mask { file: true } => {
            make_mountpoint(staged_path, true, dirs).map_err(root("create mountpoint"))?;
            let source = CString::new(MASK_SOURCE).unwrap_or_default();
            sys::mount(Some(&source), staged, None, libc::MS_BIND, None).map_err(root("mask"))?;
            read_only(staged, false)
                .map_err(|e| failure(Control::ReadOnlyMounts, step("restrict"), &e))
        }
        MountKind::Device => {
            let source = op.source.as_deref().unwrap_or(c"");
            make_mountpoint(staged_path, true, dirs).map_err(root("create mountpoint"))?;
            sys::mount(Some(source), staged, None, libc::MS_BIND, None).map_err(root("bind"))?;
            set_flags(staged, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC, false)
                .map_err(|e| failure(Control::ReadOnlyMounts, step("restrict"), &e))
        }
    }
}

fn make_mountpoint(path: &Path, file: bool, dirs: &mut Existing) -> io::Result<()> {
    if !file {
        // mkdir first; an existing directory is fine (even on a read-only
        // mount, where mkdir says EEXIST).
        return dirs.ensure(path);
    }
    if path.symlink_metadata().is_ok() {
        return Ok(());
    }
    dirs.parent_of(path)?;
    std::fs::File::create(path).map(drop)
}

fn read_only_or_nosuid(path: &CStr, readonly: bool) -> io::Result<()> {
    if readonly {
        read_only(path, true)
    } else {
        set_flags(path, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV, true)
    }
}

fn read_only(path: &CStr, recursive: bool) -> io::Result<()> {
    set_flags(
        path,
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        recursive,
    )
}

/// Adds mount flags with `mount_setattr` (recursively), or, on kernels before
/// 5.12, with a bind remount of the top mount that keeps the flags the kernel
/// locked (a remount in a user namespace may not clear them). The command's
/// verification reads the mount table, so a submount the fallback misses is
/// caught there.
fn set_flags(path: &CStr, attrs: u64, recursive: bool) -> io::Result<()> {
    match sys::mount_setattr(path, attrs, recursive) {
        Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {
            let current = sys::statvfs_flags(path)?;
            let mut flags = libc::MS_REMOUNT | libc::MS_BIND;
            for (st, ms, attr) in [
                (libc::ST_RDONLY, libc::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
                (libc::ST_NOSUID, libc::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
                (libc::ST_NODEV, libc::MS_NODEV, sys::MOUNT_ATTR_NODEV),
                (libc::ST_NOEXEC, libc::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
            ] {
                if current & st != 0 || attrs & attr != 0 {
                    flags |= ms;
                }
            }
            for (st, ms) in
                [(libc::ST_NOATIME, libc::MS_NOATIME), (libc::ST_RELATIME, libc::MS_RELATIME)]
            {
                if current & st != 0 {
                    flags |= ms;
                }
            }
            sys::mount(None, path, None, flags, None)
        }
        other => other,
    }
}
