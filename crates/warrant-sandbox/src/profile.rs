//! Sandbox profiles as data, and the spec that binds a profile to a workspace.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ProfileError;
use crate::report::Control;

/// A reusable sandbox policy, usually written in TOML (see the crate docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What the profile is for.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub network: NetworkPolicy,
    /// Host paths made visible besides the workspace and the system directories.
    #[serde(default, rename = "path")]
    pub paths: Vec<PathRule>,
    #[serde(default)]
    pub env: EnvPolicy,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub controls: ControlPolicy,
}

/// How the sandbox reaches the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// An empty network namespace with only loopback up; no TCP/UDP sockets at all.
    #[default]
    None,
    /// An empty network namespace where `127.0.0.1:<proxy_port>` is forwarded to a
    /// Unix socket on the host (the gateway's egress proxy). Nothing else is reachable.
    Proxy,
    /// The host's network. Only when a profile asks for it explicitly.
    Host,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    #[serde(default)]
    pub mode: NetworkMode,
    /// Port the forwarder listens on inside the sandbox (`proxy` mode).
    #[serde(default = "default_proxy_port")]
    pub proxy_port: u16,
    /// In `proxy` mode, set `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` (and lowercase)
    /// to `http://127.0.0.1:<proxy_port>`.
    #[serde(default = "default_true")]
    pub proxy_env: bool,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self { mode: NetworkMode::None, proxy_port: default_proxy_port(), proxy_env: true }
    }
}

fn default_proxy_port() -> u16 {
    3128
}

fn default_true() -> bool {
    true
}

/// Read-only or read-write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// One host path to mount at the same path inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// Absolute, or starting with `~/` (the launcher's `$HOME`).
    pub path: String,
    pub access: Access,
    /// Skip the rule when the path does not exist instead of failing.
    #[serde(default)]
    pub optional: bool,
    /// Why the sandbox needs it.
    #[serde(default)]
    pub reason: String,
}

/// Which environment variables reach the command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvPolicy {
    /// Name patterns (`NAME`, `PREFIX*`, `*SUFFIX`, `*INFIX*`) passed through from
    /// the launcher's environment, in addition to the built-in allowlist. The
    /// built-in denylist wins over this list.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Variables set explicitly. A name on the denylist is rejected, not dropped.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

/// Resource limits. `None` keeps the launcher's value (core dumps are always off).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// RLIMIT_AS of each process (address space, not resident memory).
    pub memory_bytes: Option<u64>,
    /// RLIMIT_NPROC, and the PID namespace's pid_max where the kernel allows it.
    pub max_processes: Option<u64>,
    /// RLIMIT_CPU of each process: SIGXCPU at the limit, SIGKILL one second later.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_FSIZE: largest file a process may write.
    pub file_size_bytes: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// Wall-clock limit for the whole tree, enforced by the sandbox's init.
    pub wall_clock_seconds: Option<u64>,
    /// A cgroup v2 of the sandbox's own, where one is delegated, bounding the
    /// whole tree: `memory.max` = `memory_bytes`, `pids.max` = `max_processes`.
    #[serde(default)]
    pub cgroup: CgroupMode,
}

/// Whether the tree gets a cgroup v2 of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupMode {
    /// Where one is delegated; otherwise the report says `unavailable` and
    /// the rlimits alone bound each process.
    #[default]
    Auto,
    /// Refuse to run without one, with every limit set in it.
    Required,
    /// Never.
    Off,
}

/// Which controls may degrade on hosts that lack them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPolicy {
    /// Controls applied when the host supports them and reported `unavailable`
    /// otherwise. Everything else is required: if it cannot be applied and
    /// verified, the command does not run.
    #[serde(default)]
    pub best_effort: Vec<Control>,
    /// Refuse to run unless the kernel's Landlock ABI is at least this.
    pub landlock_min_abi: Option<u32>,
}

/// A shipped profile: its name, why it exists, and its TOML text.
struct Builtin {
    name: &'static str,
    toml: &'static str,
}

const BUILTINS: &[Builtin] = &[
    Builtin { name: "coding-agent", toml: include_str!("../profiles/coding-agent.toml") },
    Builtin { name: "strict", toml: include_str!("../profiles/strict.toml") },
];

impl Profile {
    /// Parses and validates a profile from TOML.
    pub fn from_toml(text: &str) -> Result<Self, ProfileError> {
        let profile: Profile =
            toml::from_str(text).map_err(|e| ProfileError::Parse(e.to_string()))?;
        profile.validate()?;
        Ok(profile)
    }

    /// A shipped profile by name: `coding-agent` or `strict`.
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        let builtin = BUILTINS
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| ProfileError::UnknownBuiltin(name.to_owned()))?;
        Self::from_toml(builtin.toml)
    }

    /// Names of the shipped profiles.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTINS.iter().map(|b| b.name)
    }

    /// Whether a profile requires `control`: every control unless listed as
    /// best effort, except the cgroup, required only by `cgroup = "required"`.
    pub fn requires(&self, control: Control) -> bool {
        if control == Control::Cgroup {
            return self.limits.cgroup == CgroupMode::Required;
        }
        !self.controls.best_effort.contains(&control)
    }

    /// Checks what types cannot: best-effort entries, denied explicit variables,
    /// path syntax.
    pub fn validate(&self) -> Result<(), ProfileError> {
        for control in &self.controls.best_effort {
            if !control.may_be_best_effort() {
                return Err(ProfileError::StructuralControl(*control));
            }
        }
        for name in self.env.set.keys() {
            if let Some(rule) = crate::env::denied_by(name) {
                return Err(ProfileError::DeniedVariable {
                    name: name.clone(),
                    reason: rule.reason,
                });
            }
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(ProfileError::InvalidVariable(name.clone()));
            }
        }
        for rule in &self.paths {
            if !(rule.path.starts_with('/') || rule.path.starts_with("~/")) {
                return Err(ProfileError::RelativePath(rule.path.clone()));
            }
        }
        if self.network.mode == NetworkMode::Proxy && self.network.proxy_port == 0 {
            return Err(ProfileError::ProxyPortZero);
        }
        Ok(())
    }
}

/// A profile bound to one launch context: the workspace and, in `proxy` mode,
/// the host socket the forwarder connects to. It crosses the launcher
/// helper's socket with its paths in hex, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "crate::launcher::WireSpec", from = "crate::launcher::WireSpec")]
pub struct SandboxSpec {
    pub profile: Profile,
    /// Mounted read-write at the same path; the default working directory.
    pub workspace: PathBuf,
    /// Working directory inside the sandbox (defaults to the workspace).
    pub cwd: Option<PathBuf>,
    /// Host Unix socket that `127.0.0.1:<proxy_port>` is forwarded to (`proxy` mode).
    pub proxy_socket: Option<PathBuf>,
    /// A delegated cgroup v2 directory to make each sandbox's cgroup in
    /// (default: the launcher's own cgroup, when it hands out `memory` and
    /// `pids`). See the profile's `limits.cgroup`.
    pub cgroup_parent: Option<PathBuf>,
    /// Paths no sandbox may see besides the secret stores beneath `$HOME`
    /// (Warrant's home), each with the reason: masked where they lie inside
    /// the workspace or a declared path; a workspace or declared path inside
    /// one is refused.
    pub protected: Vec<(PathBuf, String)>,
}

impl SandboxSpec {
    pub fn new(profile: Profile, workspace: impl Into<PathBuf>) -> Self {
        Self {
            profile,
            workspace: workspace.into(),
            cwd: None,
            proxy_socket: None,
            cgroup_parent: None,
            protected: Vec::new(),
        }
    }

    /// Adds a path no sandbox may see (see [`SandboxSpec::protected`]).
    pub fn with_protected(mut self, path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        self.protected.push((path.into(), reason.into()));
        self
    }

    pub fn with_cgroup_parent(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cgroup_parent = Some(dir.into());
        self
    }

    pub fn with_proxy_socket(mut self, socket: impl Into<PathBuf>) -> Self {
        self.proxy_socket = Some(socket.into());
        self
    }

    pub fn with_cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn shipped_profiles_parse_and_validate() {
        for name in Profile::builtin_names() {
            Profile::builtin(name).unwrap();
        }
        let strict = Profile::builtin("strict").unwrap();
        assert_eq!(strict.network.mode, NetworkMode::None);
        assert!(strict.controls.best_effort.is_empty());
        let agent = Profile::builtin("coding-agent").unwrap();
        assert_eq!(agent.network.mode, NetworkMode::Proxy);
    }

    #[test]
    fn namespaces_cannot_be_best_effort() {
        let err =
            Profile::from_toml("[controls]\nbest_effort = [\"user_namespace\"]\n").unwrap_err();
        assert!(err.to_string().contains("user_namespace"), "{err}");
    }

    #[test]
    fn explicitly_setting_a_denied_variable_is_rejected() {
        let err = Profile::from_toml("[env.set]\nGITHUB_TOKEN = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(Profile::from_toml("[network]\nmode = \"none\"\nports = 1\n").is_err());
        assert!(Profile::from_toml("[network]\nmode = \"internet\"\n").is_err());
    }

    #[test]
    fn relative_paths_are_rejected() {
        let err =
            Profile::from_toml("[[path]]\npath = \"src\"\naccess = \"read-only\"\n").unwrap_err();
        assert!(matches!(err, ProfileError::RelativePath(_)));
    }
}
