//! Paths no sandbox sees, whatever its workspace: the secret stores beneath
//! the launcher's `$HOME` (the table in `tables.rs`) and the paths the
//! embedder names (Warrant's own home, wherever it is).
//!
//! A workspace is whatever directory a person started a run in, and the
//! most natural one, `~`, holds every secret the person has. So the plan
//! does not trust the workspace to be clean: every protected path that lies
//! inside a mount the sandbox gets (the workspace, a declared path) has an
//! empty read-only directory or file mounted over it, and a workspace or
//! declared path that lies inside a protected path is refused. The command's
//! verification checks each of those masks from inside before exec.
//!
//! What it does not do: find secrets by content, or follow a protected path
//! created on the host after the sandbox started (it is not masked in the
//! running sandbox).

use std::path::{Path, PathBuf};

use crate::error::LaunchError;
use crate::tables::SECRET_STORES;

/// A path no sandbox sees, as it exists on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protected {
    /// As named (`$HOME` joined with the table's entry, or as the embedder
    /// gave it), normalised lexically.
    pub named: PathBuf,
    /// Where it really is (symlinks resolved).
    pub path: PathBuf,
    /// A file rather than a directory.
    pub file: bool,
    /// Where each symlink followed on the way from `named` to `path` is (a
    /// dotfiles layout: `~/.config/gh -> ~/dotfiles/gh`, and any link that
    /// one leads through).
    pub links: Vec<PathBuf>,
    pub reason: String,
}

impl Protected {
    /// Whether `path` (absolute, normalised) is this protected path or lies
    /// inside it, by its name or by where it really is.
    pub fn covers(&self, path: &Path) -> bool {
        path.starts_with(&self.path) || path.starts_with(&self.named)
    }
}

/// Every protected path that exists on this host: the secret stores beneath
/// each of `homes` (see [`launcher_homes`]) and `extra`, each with the
/// reason it is protected. Paths that do not exist are left out: there is
/// nothing to hide.
pub fn protected_paths(homes: &[PathBuf], extra: &[(PathBuf, String)]) -> Vec<Protected> {
    let stores = homes.iter().flat_map(|home| {
        SECRET_STORES.iter().map(move |s| (home.join(s.path), s.reason.to_owned()))
    });
    let mut out: Vec<Protected> = Vec::new();
    for (named, reason) in stores.chain(extra.iter().cloned()) {
        // A relative path is taken from the current directory, as the
        // embedder's own file operations would take it.
        let Some(named) = std::path::absolute(&named).ok().and_then(|p| crate::plan::lexical(&p))
        else {
            continue;
        };
        let Ok(path) = named.canonicalize() else { continue };
        let Ok(meta) = path.metadata() else { continue };
        if out.iter().any(|p| p.path == path) {
            continue;
        }
        let links = links_on_the_way(&named);
        out.push(Protected { named, path, file: !meta.is_dir(), reason, links });
    }
    out
}

/// The most symlinks followed in one path, as the kernel allows.
const MAX_LINKS: usize = 40;

/// Where each symlink met while resolving `path` (absolute) is, in order,
/// following them as the kernel would.
fn links_on_the_way(path: &Path) -> Vec<PathBuf> {
    use std::path::Component;
    let mut links = Vec::new();
    let mut pending: std::collections::VecDeque<PathBuf> =
        path.components().map(|c| PathBuf::from(c.as_os_str())).collect();
    let mut at = PathBuf::from("/");
    while let Some(part) = pending.pop_front() {
        match part.components().next() {
            Some(Component::RootDir) => at = PathBuf::from("/"),
            Some(Component::ParentDir) => {
                at.pop();
            }
            Some(Component::Normal(name)) => {
                let next = at.join(name);
                let is_link = next.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
                if !is_link {
                    at = next;
                    continue;
                }
                let Ok(target) = std::fs::read_link(&next) else { break };
                links.push(next);
                if links.len() >= MAX_LINKS {
                    break;
                }
                for (i, c) in target.components().enumerate() {
                    pending.insert(i, PathBuf::from(c.as_os_str()));
                }
            }
            _ => {}
        }
    }
    links
}

/// Every home directory of the launcher, where each really is (a `/home ->
/// /var/home` link, a relative `$HOME` resolved): `$HOME` first, then this
/// uid's home in `/etc/passwd` when it differs (`HOME=/tmp` does not make
/// `/root` any less the person's home). The first is the one the sandbox's
/// private home is mounted over.
pub fn launcher_homes() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    let named = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    for home in named.into_iter().chain(passwd_home()) {
        let Ok(absolute) = std::path::absolute(&home) else { continue };
        let home = absolute.canonicalize().unwrap_or(absolute);
        if !homes.contains(&home) {
            homes.push(home);
        }
    }
    homes
}

/// This uid's home directory in `/etc/passwd`.
fn passwd_home() -> Option<PathBuf> {
    let uid = crate::sys::geteuid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, id, _, _, home, ..] if *id == uid && !home.is_empty() => {
                Some(PathBuf::from(home))
            }
            _ => None,
        }
    })
}

/// A host directory or file the sandbox gets: `source` (canonical) appears
/// at `target`, writable or not.
pub(crate) struct Bind<'a> {
    pub target: &'a Path,
    pub source: &'a Path,
    pub writable: bool,
}

/// What the plan adds to keep protected paths out of reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Guard {
    /// An empty, read-only directory or file over a protected path.
    Mask { target: PathBuf, file: bool },
    /// A directory between a bind's root and a protected path, bound onto
    /// itself with the bind's access: a mount point cannot be renamed or
    /// removed, so the protected path cannot be moved out from under its
    /// mask (and found unmasked by the next sandbox or file tool).
    Pin { target: PathBuf, source: PathBuf, writable: bool },
}

impl Guard {
    pub(crate) fn target(&self) -> &Path {
        match self {
            Guard::Mask { target, .. } | Guard::Pin { target, .. } => target,
        }
    }
}

/// Refuses a bind of one of the launcher's home directories (the workspace
/// of `cd ~ && warrant run`), one that holds a home the sandbox's private
/// home does not cover (a home reached under another name, or the passwd
/// home when `$HOME` points elsewhere), one inside a protected path, and a
/// writable one that holds a symlink on the way to a protected path; and
/// lists what the others need: a mask over each protected path strictly
/// inside a bind's source, and a pin on each directory between the bind's
/// root and it.
///
/// A home is refused rather than masked: besides the secret stores it holds
/// the files that run code as the person later (shell startup files,
/// `~/.gitconfig`, `~/.ssh/authorized_keys` once created), which no table can
/// list in full. `covered` is the home the sandbox's private home is mounted
/// over, where it really is.
pub(crate) fn guards(
    binds: &[Bind<'_>],
    protected: &[Protected],
    homes: &[PathBuf],
    covered: Option<&Path>,
) -> Result<Vec<Guard>, LaunchError> {
    let mut out: Vec<Guard> = Vec::new();
    for bind in binds {
        if homes.iter().any(|h| h == bind.source) {
            return Err(LaunchError::Path {
                path: bind.target.to_path_buf(),
                reason: "is your home directory, which a sandbox never gets: it holds your shell's startup files and your secret stores, which a command could read or rewrite to run code as you later; run from a project directory".to_owned(),
            });
        }
        let uncovered = homes.iter().find(|h| {
            h.starts_with(bind.source)
                && !(covered == Some(h.as_path()) && h.starts_with(bind.target))
        });
        if let Some(home) = uncovered {
            return Err(LaunchError::Path {
                path: bind.target.to_path_buf(),
                reason: format!(
                    "holds your home directory `{}` where the sandbox's private home cannot cover it (another name for it, or a home other than $HOME); choose a directory that does not hold it",
                    home.display()
                ),
            });
        }
        if let Some(p) = protected.iter().find(|p| p.covers(bind.source) || p.covers(bind.target)) {
            return Err(LaunchError::Path {
                path: bind.target.to_path_buf(),
                reason: format!(
                    "is inside `{}` ({}), which no sandbox sees; choose a directory outside it",
                    p.named.display(),
                    p.reason
                ),
            });
        }
        // A link to a store, inside a writable bind, could be replaced by the
        // sandbox with a store of its own that the person's tools then use.
        let replaceable = protected
            .iter()
            .find(|p| bind.writable && p.links.iter().any(|l| l.starts_with(bind.source)));
        if let Some(p) = replaceable {
            return Err(LaunchError::Path {
                path: bind.target.to_path_buf(),
                reason: format!(
                    "holds a link on the way from `{}` to `{}` ({}), which a sandbox could replace with its own; choose a directory that does not hold it",
                    p.named.display(),
                    p.path.display(),
                    p.reason
                ),
            });
        }
        for p in protected {
            let Ok(rel) = p.path.strip_prefix(bind.source) else { continue };
            let mut guards = Vec::new();
            let mut between = PathBuf::new();
            let mut parts = rel.components().peekable();
            while let Some(part) = parts.next() {
                between.push(part);
                if parts.peek().is_some() {
                    guards.push(Guard::Pin {
                        target: bind.target.join(&between),
                        source: bind.source.join(&between),
                        writable: bind.writable,
                    });
                }
            }
            guards.push(Guard::Mask { target: bind.target.join(rel), file: p.file });
            for guard in guards {
                if !out.iter().any(|g| g.target() == guard.target()) {
                    out.push(guard);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(home.join(".cargo")).unwrap();
        std::fs::write(home.join(".cargo/credentials.toml"), "token").unwrap();
        std::fs::write(home.join(".netrc"), "machine x").unwrap();
        (dir, root)
    }

    #[test]
    fn stores_that_exist_are_protected_and_the_others_are_not() {
        let (_dir, root) = tree();
        let home = root.join("home");
        let found = protected_paths(std::slice::from_ref(&home), &[(root.join("wh"), "w".into())]);
        let names: Vec<_> = found.iter().map(|p| p.path.strip_prefix(&root).unwrap()).collect();
        assert!(names.contains(&Path::new("home/.ssh")));
        assert!(names.contains(&Path::new("home/.netrc")));
        assert!(names.contains(&Path::new("home/.cargo/credentials.toml")));
        assert!(!names.iter().any(|n| n.ends_with(".gnupg") || n.ends_with("wh")));
        assert!(found.iter().find(|p| p.path.ends_with(".netrc")).unwrap().file);
    }

    #[test]
    fn a_workspace_holding_stores_gets_a_mask_over_each() {
        let (_dir, root) = tree();
        let home = root.join("home");
        let found = protected_paths(std::slice::from_ref(&home), &[]);
        let binds = [Bind { target: &root, source: &root, writable: true }];
        let guards = guards(&binds, &found, &[], None).unwrap();
        assert!(guards.contains(&Guard::Mask { target: home.join(".ssh"), file: false }));
        assert!(guards.contains(&Guard::Mask { target: home.join(".netrc"), file: true }));
        let masks = guards.iter().filter(|g| matches!(g, Guard::Mask { .. })).count();
        assert_eq!(masks, found.len());
        // Every directory on the way is pinned, once, with the bind's access.
        for dir in [home.clone(), home.join(".cargo")] {
            let pin = Guard::Pin { target: dir.clone(), source: dir, writable: true };
            assert_eq!(guards.iter().filter(|g| **g == pin).count(), 1, "{guards:?}");
        }
    }

    #[test]
    fn a_store_reached_through_a_symlink_is_masked_where_it_points() {
        let (_dir, root) = tree();
        let home = root.join("home");
        std::fs::create_dir_all(root.join("data/keys")).unwrap();
        std::fs::create_dir_all(home.join(".config")).unwrap();
        std::os::unix::fs::symlink(root.join("data/keys"), home.join(".config/gcloud")).unwrap();
        let found = protected_paths(std::slice::from_ref(&home), &[]);
        let data = root.join("data");
        let guards =
            guards(&[Bind { target: &data, source: &data, writable: false }], &found, &[], None)
                .unwrap();
        assert_eq!(guards, [Guard::Mask { target: root.join("data/keys"), file: false }]);
    }

    #[test]
    fn a_writable_bind_holding_a_link_to_a_store_is_refused() {
        let (_dir, root) = tree();
        let home = root.join("home");
        std::fs::create_dir_all(root.join("dotfiles/gh")).unwrap();
        std::fs::create_dir_all(home.join(".config")).unwrap();
        std::os::unix::fs::symlink(root.join("dotfiles/gh"), home.join(".config/gh")).unwrap();
        let found = protected_paths(std::slice::from_ref(&home), &[]);
        let config = home.join(".config");
        let writable = Bind { target: &config, source: &config, writable: true };
        let err = guards(&[writable], &found, &[], None).unwrap_err();
        assert!(err.to_string().contains("could replace"), "{err}");
        let read_only = Bind { target: &config, source: &config, writable: false };
        assert!(guards(&[read_only], &found, &[], None).is_ok());
    }

    #[test]
    fn a_writable_bind_holding_any_link_of_a_chain_to_a_store_is_refused() {
        let (_dir, root) = tree();
        let home = root.join("home");
        let ws = root.join("ws");
        std::fs::create_dir_all(ws.join("awsreal")).unwrap();
        std::os::unix::fs::symlink(ws.join("awsreal"), ws.join("awslink")).unwrap();
        std::os::unix::fs::symlink(ws.join("awslink"), home.join(".aws")).unwrap();
        let found = protected_paths(std::slice::from_ref(&home), &[]);
        let aws = found.iter().find(|p| p.named.ends_with(".aws")).unwrap();
        assert_eq!(aws.links, [home.join(".aws"), ws.join("awslink")]);
        let bind = Bind { target: &ws, source: &ws, writable: true };
        let err = guards(&[bind], &found, &[], None).unwrap_err();
        assert!(err.to_string().contains("could replace"), "{err}");
    }

    #[test]
    fn a_bind_inside_a_protected_path_is_refused() {
        let (_dir, root) = tree();
        let home = root.join("home");
        let found = protected_paths(std::slice::from_ref(&home), &[]);
        let inside = home.join(".ssh");
        let bind = Bind { target: &inside, source: &inside, writable: true };
        let err = guards(&[bind], &found, &[], None).unwrap_err();
        assert!(err.to_string().contains("no sandbox sees"), "{err}");
    }

    #[test]
    fn the_home_itself_is_refused_and_a_bind_around_it_is_not() {
        let (_dir, root) = tree();
        let home = root.join("home");
        let found = protected_paths(std::slice::from_ref(&home), &[]);
        let bind = Bind { target: &home, source: &home, writable: true };
        let homes = [home.clone()];
        let err = guards(&[bind], &found, &homes, Some(&home)).unwrap_err();
        assert!(err.to_string().contains("your home directory"), "{err}");
        let around = Bind { target: &root, source: &root, writable: true };
        assert!(guards(&[around], &found, &homes, Some(&home)).is_ok());
        // Not covered by the private home (it sits elsewhere): refused.
        let around = Bind { target: &root, source: &root, writable: false };
        let err = guards(&[around], &found, &homes, None).unwrap_err();
        assert!(err.to_string().contains("cannot cover"), "{err}");
        // Reached under another name: the private home is not at the target.
        let alias = root.join("alias");
        let renamed = Bind { target: &alias, source: &root, writable: true };
        let err = guards(&[renamed], &found, &homes, Some(&home)).unwrap_err();
        assert!(err.to_string().contains("cannot cover"), "{err}");
    }
}
