//! Warrant's own file tools, `warrant__read_file`, `warrant__write_file` and
//! `warrant__list_dir`: beneath the agent's workspace, and never in a
//! protected path (Warrant's home, the secret stores beneath `$HOME`: the
//! same list every sandbox masks, `warrant_sandbox::protected_paths`).
//!
//! Paths are resolved with `cap-std`, which refuses `..`, absolute paths and
//! symlinks that lead out of the workspace at the time of the open. A
//! workspace may hold a protected path (an agent spawned with `--workspace
//! ~/.config`), and a symlink inside the workspace may lead into one, so
//! every directory and file is checked where it really is, through the open
//! descriptor (`/proc/self/fd`), after it is opened and before anything is
//! read through it. Writes never go through a symlink: the new contents are
//! written to a fresh file in a checked directory and renamed over the name
//! (a rename replaces a link, not its target), and a name that is a symlink
//! is refused, so a link planted by `warrant__exec` cannot have a protected
//! file emptied or created first. Directories that `create_dirs` makes are
//! made one at a time, each checked before the next. A workspace that is or
//! holds the home directory is refused outright: its startup files and
//! stores are no agent's to read or rewrite.
//!
//! What it does not do: notice a hard link, made before the agent started,
//! from the workspace to a file in a protected path.

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use warrant_sandbox::Protected;

use crate::catalog::{LIST_DIR, READ_FILE, WRITE_FILE};
use warrant_core::printable;

/// The largest file `warrant__read_file` returns or `warrant__write_file` writes.
const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The most entries `warrant__list_dir` returns.
const MAX_DIR_ENTRIES: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileArgs {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    append: bool,
    #[serde(default)]
    create_dirs: bool,
}

/// What the file tools may not touch: the protected paths of this host.
pub(crate) struct Fence {
    protected: Vec<Protected>,
    /// The gateway's home directories (`$HOME` and the passwd one), where
    /// each really is.
    homes: Vec<PathBuf>,
}

impl Fence {
    /// The secret stores beneath `$HOME`, Warrant's home and its audit witness.
    pub(crate) fn new(settings: &warrant_state::config::SandboxSettings) -> Self {
        let homes = warrant_sandbox::launcher_homes();
        let protected = warrant_sandbox::protected_paths(&homes, &settings.protected);
        Self { protected, homes }
    }

    /// Refuses a workspace that is or holds the home directory (its startup
    /// files and stores are no agent's to read or rewrite), or lies inside a
    /// protected path.
    fn check_workspace(&self, workspace: &Path) -> Result<(), String> {
        let real = workspace.canonicalize().map_err(|e| {
            format!("warrant: the workspace `{}` cannot be opened: {e}", workspace.display())
        })?;
        if self.homes.iter().any(|home| home.starts_with(&real)) {
            return Err(format!(
                "warrant: the workspace `{}` holds your home directory, which Warrant's file tools never work in; give the agent a project directory (`agents spawn --workspace DIR`)",
                workspace.display()
            ));
        }
        self.check(&real, &workspace.display().to_string())
    }

    /// Refuses `path` if it is, or lies inside, a protected path.
    fn check(&self, path: &Path, shown: &str) -> Result<(), String> {
        match self.protected.iter().find(|p| p.covers(path)) {
            Some(p) => Err(format!(
                "warrant: `{}` is inside `{}` ({}); Warrant's file tools never touch it",
                printable(shown),
                p.named.display(),
                p.reason
            )),
            None => Ok(()),
        }
    }

    /// Refuses the name `name` in the open directory `dir`, where it really
    /// is, if it is protected: what a new or replaced entry of `dir` would
    /// be, whatever path led to `dir` (`d/credentials.toml` with `d -> .`).
    fn check_entry(
        &self,
        dir: &impl AsFd,
        name: &std::ffi::OsStr,
        shown: &str,
    ) -> Result<(), String> {
        let real = real_path(dir).map_err(|e| {
            format!("warrant: `{}`: cannot tell where it is ({e}); refused", printable(shown))
        })?;
        self.check(&real.join(name), shown)
    }

    /// Refuses what `handle` (an open file or directory) really is, if it is
    /// protected. A descriptor whose path cannot be read is refused too.
    fn check_open(&self, handle: &impl AsFd, shown: &str) -> Result<(), String> {
        let real = real_path(handle).map_err(|e| {
            format!("warrant: `{}`: cannot tell where it is ({e}); refused", printable(shown))
        })?;
        self.check(&real, shown)
    }
}

/// Where an open descriptor really is, as the kernel names it.
fn real_path(handle: &impl AsFd) -> std::io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", handle.as_fd().as_raw_fd()))
}

/// The file tools. Runs on a blocking thread.
pub(crate) fn call(
    workspace: &Path,
    fence: &Fence,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, String> {
    let args: FileArgs =
        serde_json::from_value(arguments).map_err(|e| format!("warrant: {tool} arguments: {e}"))?;
    fence.check_workspace(workspace)?;
    let root = Dir::open_ambient_dir(workspace, ambient_authority()).map_err(|e| {
        format!("warrant: the workspace `{}` cannot be opened: {e}", workspace.display())
    })?;
    // What was opened is the workspace, not a link put in its place between
    // the check and the open.
    let opened = real_path(&root).map_err(|e| format!("warrant: the workspace: {e}"))?;
    if opened != workspace {
        return Err(format!(
            "warrant: the workspace `{}` was replaced while it was being opened; refused",
            workspace.display()
        ));
    }
    let shown = args.path.clone().unwrap_or_else(|| ".".into());
    let path = normalized(&beneath(workspace, args.path.as_deref().unwrap_or("."))?, &shown)?;
    fence.check(&workspace.join(&path), &shown)?;
    let refused = |e: std::io::Error| {
        format!("warrant: `{}`: {e} (paths must stay beneath the workspace)", printable(&shown))
    };
    let text = match tool {
        READ_FILE => {
            let file = root.open_with(&path, &nonblocking_read()).map_err(refused)?;
            fence.check_open(&file, &shown)?;
            regular(&file, &shown)?;
            let mut bytes = Vec::new();
            let limit = u64::try_from(MAX_FILE_BYTES + 1).unwrap_or(u64::MAX);
            file.take(limit).read_to_end(&mut bytes).map_err(refused)?;
            if bytes.len() > MAX_FILE_BYTES {
                return Err(format!("warrant: `{shown}` is larger than {MAX_FILE_BYTES} bytes"));
            }
            String::from_utf8(bytes).map_err(|_| format!("warrant: `{shown}` is not UTF-8 text"))?
        }
        WRITE_FILE => {
            let content = args.content.unwrap_or_default();
            if content.len() > MAX_FILE_BYTES {
                return Err(format!("warrant: content is larger than {MAX_FILE_BYTES} bytes"));
            }
            let name = path
                .file_name()
                .ok_or_else(|| format!("warrant: `{}` does not name a file", printable(&shown)))?;
            let parent = path.parent().unwrap_or(Path::new(""));
            let dir = open_dir_checked(&root, parent, args.create_dirs, fence, &shown)
                .map_err(|e| e.unwrap_or_else(refused))?;
            replace_file(&dir, name, content.as_bytes(), args.append, fence, &shown)
                .map_err(|e| e.unwrap_or_else(refused))?;
            format!("wrote {} bytes to {shown}", content.len())
        }
        LIST_DIR => {
            let dir = open_dir_checked(&root, &path, false, fence, &shown)
                .map_err(|e| e.unwrap_or_else(refused))?;
            let mut lines = Vec::new();
            for entry in dir.entries().map_err(refused)?.take(MAX_DIR_ENTRIES + 1) {
                let entry = entry.map_err(refused)?;
                let kind = match entry.file_type() {
                    Ok(t) if t.is_dir() => "dir",
                    Ok(t) if t.is_symlink() => "symlink",
                    Ok(_) => "file",
                    Err(_) => "unknown",
                };
                lines.push(json!({"name": entry.file_name().to_string_lossy(), "type": kind}));
            }
            if lines.len() > MAX_DIR_ENTRIES {
                lines.truncate(MAX_DIR_ENTRIES);
                lines.push(json!({"truncated": true}));
            }
            Value::Array(lines).to_string()
        }
        other => return Err(format!("warrant: no file tool `{other}`")),
    };
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// Writes `content` as the file `name` in `dir` (a checked directory), or
/// adds it to what the file holds (`append`), without ever writing through a
/// symlink: the new contents go to a fresh file in `dir` that is then
/// renamed over `name`, and a rename replaces a symlink, not its target. A
/// name that is a symlink is refused, so a link planted in the workspace
/// (by `warrant__exec`, say) cannot have a protected file emptied or
/// created before any check. The file keeps its permissions.
fn replace_file(
    dir: &Dir,
    name: &std::ffi::OsStr,
    content: &[u8],
    append: bool,
    fence: &Fence,
    shown: &str,
) -> Result<(), Result<String, std::io::Error>> {
    fence.check_entry(dir, name, shown).map_err(Ok)?;
    let existing = match dir.symlink_metadata(name) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Ok(format!(
                "warrant: `{}` is a symlink; Warrant's file tools do not write through one (name the file itself)",
                printable(shown)
            )));
        }
        Ok(meta) if meta.is_dir() => {
            return Err(Ok(format!("warrant: `{}` is a directory", printable(shown))));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(Ok(format!(
                "warrant: `{}` is not a regular file (a FIFO, a socket, a device)",
                printable(shown)
            )));
        }
        // Permission bits only: set-user-ID, set-group-ID and sticky bits are
        // not carried onto what an agent wrote.
        Ok(meta) => Some(cap_std::fs::MetadataExt::mode(&meta) & 0o777),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Err(e)),
    };
    let mut data = Vec::new();
    if append && existing.is_some() {
        let file = dir.open_with(name, &nonblocking_read()).map_err(Err)?;
        fence.check_open(&file, shown).map_err(Ok)?;
        regular(&file, shown).map_err(Ok)?;
        let limit = u64::try_from(MAX_FILE_BYTES + 1).unwrap_or(u64::MAX);
        file.take(limit).read_to_end(&mut data).map_err(Err)?;
    }
    data.extend_from_slice(content);
    if data.len() > MAX_FILE_BYTES {
        return Err(Ok(format!(
            "warrant: `{}` would be larger than {MAX_FILE_BYTES} bytes",
            printable(shown)
        )));
    }
    // A short name of its own (a long `name` plus a suffix could pass the
    // 255-byte limit), private until it takes the file's place.
    let staged = format!(".warrant-{}.tmp", crate::approvals::new_id());
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let mut file = dir.open_with(&staged, &options)?;
        file.write_all(&data)?;
        let mode = existing.unwrap_or(NEW_FILE_MODE);
        file.set_permissions(cap_std::fs::Permissions::from_std(std::fs::Permissions::from_mode(
            mode,
        )))?;
        dir.rename(&staged, dir, name)
    })();
    if written.is_err() {
        let _ = dir.remove_file(&staged);
    }
    written.map_err(Err)
}

/// The mode of a file `warrant__write_file` creates.
const NEW_FILE_MODE: u32 = 0o644;

/// Opening for reading without waiting: a FIFO planted where a file was
/// expected must not hold a gateway thread until someone writes to it.
fn nonblocking_read() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(libc::O_NONBLOCK);
    options
}

/// Refuses anything but a regular file (a FIFO, a socket, a device).
fn regular(file: &cap_std::fs::File, shown: &str) -> Result<(), String> {
    match file.metadata() {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(format!(
            "warrant: `{}` is not a regular file (a FIFO, a socket, a device)",
            printable(shown)
        )),
        Err(e) => Err(format!("warrant: `{}`: {e}", printable(shown))),
    }
}

/// Opens `path` beneath `root` one component at a time, each directory
/// checked where it really is before the next is opened in it; with
/// `create`, a missing directory is made (then opened and checked). The
/// error is `Ok(message)` for a refusal, `Err(io)` for a failed open.
fn open_dir_checked(
    root: &Dir,
    path: &Path,
    create: bool,
    fence: &Fence,
    shown: &str,
) -> Result<Dir, Result<String, std::io::Error>> {
    let mut dir = root.try_clone().map_err(Err)?;
    fence.check_open(&dir, shown).map_err(Ok)?;
    for component in path.components() {
        // `normalized` left only names.
        let name = component.as_os_str();
        let next = match dir.open_dir(name) {
            Err(e) if create && e.kind() == std::io::ErrorKind::NotFound => {
                fence.check_entry(&dir, name, shown).map_err(Ok)?;
                dir.create_dir(name).map_err(Err)?;
                dir.open_dir(name).map_err(Err)?
            }
            other => other.map_err(Err)?,
        };
        fence.check_open(&next, shown).map_err(Ok)?;
        dir = next;
    }
    Ok(dir)
}

/// `path` relative to the workspace: a relative path as it is, an absolute
/// one only if it lies inside. `..` and symlinks are left to cap-std, which
/// refuses them when they lead out.
fn beneath(workspace: &Path, path: &str) -> Result<PathBuf, String> {
    if path.contains('\0') {
        return Err("warrant: a path cannot contain NUL".into());
    }
    let path = Path::new(path);
    if path.is_absolute() {
        return path
            .strip_prefix(workspace)
            .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_owned() })
            .map_err(|_| format!("warrant: `{}` is outside the workspace", path.display()));
    }
    Ok(path.to_owned())
}

/// `path` (relative) with `.` and `..` resolved by name, so that only names
/// are left to open one at a time; a path that climbs out is refused. (Where
/// each name really leads is checked on its open descriptor.)
fn normalized(path: &Path, shown: &str) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(format!(
                        "warrant: `{}` leads outside the workspace",
                        printable(shown)
                    ));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "warrant: `{}` is not beneath the workspace",
                    printable(shown)
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Ok(out)
}
