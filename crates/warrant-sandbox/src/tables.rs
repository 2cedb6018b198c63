//! The fixed allowlists and denylists of the launcher, as data with a reason on
//! each entry. Profiles add to the allowlists; nothing removes from the denylist.

/// An environment-variable name pattern: `NAME`, `PREFIX*`, `*SUFFIX` or `*INFIX*`.
/// Matching ignores ASCII case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EnvRule {
    pub pattern: &'static str,
    pub reason: &'static str,
}

/// Never passed into a sandbox, whatever the profile's allowlist says.
pub(crate) const ENV_DENYLIST: &[EnvRule] = &[
    EnvRule { pattern: "AWS_*", reason: "AWS access keys, session tokens and profiles" },
    EnvRule { pattern: "AZURE_*", reason: "Azure service-principal credentials" },
    EnvRule {
        pattern: "GOOGLE_*",
        reason: "Google Cloud credentials (GOOGLE_APPLICATION_CREDENTIALS points at a key file)",
    },
    EnvRule { pattern: "CLOUDSDK_*", reason: "gcloud configuration and credentials" },
    EnvRule { pattern: "*_TOKEN", reason: "bearer tokens (GITHUB_TOKEN, NPM_TOKEN, ...)" },
    EnvRule { pattern: "*SECRET*", reason: "secrets by name" },
    EnvRule { pattern: "*_KEY", reason: "API and signing keys (OPENAI_API_KEY, ...)" },
    EnvRule { pattern: "*PASSWORD*", reason: "passwords by name" },
    EnvRule { pattern: "*PASSWD*", reason: "passwords by name" },
    EnvRule { pattern: "*CREDENTIAL*", reason: "credential files and values" },
    EnvRule { pattern: "GITHUB_*", reason: "GitHub Actions context and tokens" },
    EnvRule { pattern: "GH_*", reason: "gh CLI tokens and host configuration" },
    EnvRule { pattern: "GITLAB_*", reason: "GitLab tokens and CI context" },
    EnvRule { pattern: "SSH_AUTH_SOCK", reason: "ssh-agent socket: signs as the user" },
    EnvRule { pattern: "SSH_AGENT_PID", reason: "ssh-agent process" },
    EnvRule { pattern: "GPG_AGENT_INFO", reason: "gpg-agent socket" },
    EnvRule { pattern: "GNUPGHOME", reason: "GnuPG keyring location" },
    EnvRule { pattern: "KRB5CCNAME", reason: "Kerberos ticket cache" },
    EnvRule { pattern: "NETRC", reason: "netrc credentials file" },
    EnvRule {
        pattern: "DBUS_SESSION_BUS_ADDRESS",
        reason: "session bus: desktop services, keyrings",
    },
    EnvRule { pattern: "DISPLAY", reason: "X11 display: keystroke injection and screen capture" },
    EnvRule { pattern: "WAYLAND_DISPLAY", reason: "Wayland compositor socket" },
    EnvRule { pattern: "XAUTHORITY", reason: "X11 authorization cookie file" },
    EnvRule {
        pattern: "XDG_RUNTIME_DIR",
        reason: "per-user runtime directory full of host sockets",
    },
    EnvRule { pattern: "DOCKER_*", reason: "Docker daemon address and registry credentials" },
    EnvRule { pattern: "CONTAINER_HOST", reason: "Podman daemon address" },
    EnvRule { pattern: "KUBECONFIG", reason: "Kubernetes cluster credentials" },
    EnvRule { pattern: "WARRANT_*", reason: "the gateway's own configuration and state directory" },
    EnvRule { pattern: "LD_PRELOAD", reason: "loader injection inherited from the launcher" },
    EnvRule { pattern: "LD_AUDIT", reason: "loader injection inherited from the launcher" },
    EnvRule { pattern: "LD_LIBRARY_PATH", reason: "points at host libraries outside the sandbox" },
];

/// Passed through from the launcher's environment unless a profile says otherwise.
pub(crate) const ENV_DEFAULT_ALLOW: &[EnvRule] = &[
    EnvRule { pattern: "PATH", reason: "program lookup (a default is set when absent)" },
    EnvRule { pattern: "LANG", reason: "locale" },
    EnvRule { pattern: "LANGUAGE", reason: "locale" },
    EnvRule { pattern: "LC_*", reason: "locale categories" },
    EnvRule { pattern: "TERM", reason: "terminal type for output formatting" },
    EnvRule { pattern: "COLORTERM", reason: "terminal colour support" },
    EnvRule { pattern: "NO_COLOR", reason: "colour opt-out" },
    EnvRule { pattern: "TZ", reason: "time zone" },
    EnvRule { pattern: "USER", reason: "user name (same uid inside)" },
    EnvRule { pattern: "LOGNAME", reason: "user name (same uid inside)" },
];

/// Matches `name` against an [`EnvRule`] pattern, ignoring ASCII case.
pub(crate) fn env_pattern_matches(pattern: &str, name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let pattern = pattern.to_ascii_uppercase();
    if pattern == "*" {
        return true;
    }
    if let Some(infix) = pattern.strip_prefix('*').and_then(|p| p.strip_suffix('*')) {
        name.contains(infix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else {
        name == pattern
    }
}

/// A host path made visible read-only in every sandbox (skipped when missing).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SystemPath {
    pub path: &'static str,
    pub reason: &'static str,
}

/// Top-level system directories. Symlinks (merged /usr) are recreated as symlinks.
pub(crate) const SYSTEM_DIRS: &[SystemPath] = &[
    SystemPath { path: "/usr", reason: "programs, libraries and data" },
    SystemPath { path: "/bin", reason: "programs (often a symlink to usr/bin)" },
    SystemPath { path: "/sbin", reason: "programs (often a symlink to usr/sbin)" },
    SystemPath { path: "/lib", reason: "libraries and the dynamic loader" },
    SystemPath { path: "/lib32", reason: "32-bit libraries" },
    SystemPath { path: "/lib64", reason: "the x86_64 dynamic loader" },
    SystemPath { path: "/libx32", reason: "x32 libraries" },
];

/// The subset of /etc a command needs. Left out on purpose: shadow files,
/// sudoers, ssh host keys, machine-id, the package manager's credentials.
pub(crate) const ETC_ENTRIES: &[SystemPath] = &[
    SystemPath { path: "/etc/passwd", reason: "uid to user-name lookups" },
    SystemPath { path: "/etc/group", reason: "gid to group-name lookups" },
    SystemPath { path: "/etc/nsswitch.conf", reason: "libc name-service configuration" },
    SystemPath { path: "/etc/hosts", reason: "localhost resolution" },
    SystemPath {
        path: "/etc/resolv.conf",
        reason: "resolver configuration (DNS is unreachable without host networking)",
    },
    SystemPath { path: "/etc/host.conf", reason: "resolver configuration" },
    SystemPath { path: "/etc/ld.so.cache", reason: "dynamic loader cache" },
    SystemPath { path: "/etc/ld.so.conf", reason: "dynamic loader configuration" },
    SystemPath { path: "/etc/ld.so.conf.d", reason: "dynamic loader configuration" },
    SystemPath { path: "/etc/ssl", reason: "CA certificates for TLS through the egress proxy" },
    SystemPath { path: "/etc/ca-certificates", reason: "CA certificate configuration" },
    SystemPath { path: "/etc/pki", reason: "CA certificates (Fedora layout)" },
    SystemPath {
        path: "/etc/alternatives",
        reason: "Debian alternatives symlinks (awk, editor, ...)",
    },
    SystemPath { path: "/etc/localtime", reason: "time zone" },
    SystemPath { path: "/etc/timezone", reason: "time zone name" },
    SystemPath { path: "/etc/os-release", reason: "distribution identification" },
    SystemPath { path: "/etc/mime.types", reason: "content-type lookups" },
];

/// Device nodes bind-mounted from the host into a private /dev.
pub(crate) const DEV_NODES: &[SystemPath] = &[
    SystemPath { path: "/dev/null", reason: "discard output" },
    SystemPath { path: "/dev/zero", reason: "zero bytes" },
    SystemPath { path: "/dev/full", reason: "ENOSPC testing" },
    SystemPath { path: "/dev/random", reason: "randomness" },
    SystemPath { path: "/dev/urandom", reason: "randomness" },
    SystemPath {
        path: "/dev/tty",
        reason: "controlling terminal (none after setsid, so it fails closed)",
    },
];

/// Symlinks every /dev is expected to have.
pub(crate) const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
];

/// Secret stores beneath the launcher's `$HOME` that no sandbox sees,
/// whatever its workspace or declared paths: where one lies inside a mount,
/// an empty read-only directory or file is mounted over it; a workspace or
/// declared path inside one is refused. A store that is a symlink is masked
/// where it points.
pub(crate) const SECRET_STORES: &[HomePath] = &[
    HomePath {
        path: ".warrant",
        reason: "Warrant's default home: keys, vault, audit log, control socket",
    },
    HomePath { path: ".ssh", reason: "SSH private keys and the hosts they open" },
    HomePath { path: ".gnupg", reason: "GnuPG private keys" },
    HomePath { path: ".password-store", reason: "pass: the password store" },
    HomePath { path: ".local/share/keyrings", reason: "GNOME keyring files" },
    HomePath { path: ".aws", reason: "AWS access keys and SSO session caches" },
    HomePath { path: ".azure", reason: "Azure CLI tokens" },
    HomePath {
        path: ".config/gcloud",
        reason: "gcloud credentials and application-default credentials",
    },
    HomePath { path: ".oci", reason: "Oracle Cloud API keys" },
    HomePath { path: ".kube", reason: "Kubernetes cluster credentials" },
    HomePath { path: ".docker", reason: "container registry credentials (config.json)" },
    HomePath { path: ".config/gh", reason: "GitHub CLI tokens" },
    HomePath { path: ".config/op", reason: "1Password CLI sessions" },
    HomePath { path: ".mozilla", reason: "Firefox profiles: cookies and saved passwords" },
    HomePath {
        path: ".config/google-chrome",
        reason: "Chrome profiles: cookies and saved passwords",
    },
    HomePath { path: ".config/chromium", reason: "Chromium profiles: cookies and saved passwords" },
    HomePath { path: ".netrc", reason: "passwords for hosts (curl, git, ftp)" },
    HomePath { path: ".git-credentials", reason: "git's plain-text credential store" },
    HomePath { path: ".npmrc", reason: "npm registry tokens" },
    HomePath { path: ".pypirc", reason: "PyPI upload tokens" },
    HomePath { path: ".cargo/credentials.toml", reason: "crates.io tokens" },
    HomePath { path: ".cargo/credentials", reason: "crates.io tokens (older cargo)" },
    HomePath { path: ".vault-token", reason: "HashiCorp Vault token" },
    HomePath { path: ".pgpass", reason: "PostgreSQL passwords" },
    HomePath { path: ".my.cnf", reason: "MySQL passwords" },
    HomePath { path: ".boto", reason: "Google Cloud Storage and S3 keys (boto)" },
    HomePath { path: ".s3cfg", reason: "S3 keys (s3cmd)" },
    HomePath { path: ".terraform.d/credentials.tfrc.json", reason: "Terraform Cloud tokens" },
    HomePath { path: ".config/rclone/rclone.conf", reason: "rclone remotes' credentials" },
    HomePath {
        path: ".config/git/credentials",
        reason: "git's plain-text credential store (XDG location)",
    },
    HomePath { path: ".config/hub", reason: "hub (GitHub) tokens" },
    HomePath { path: ".config/github-copilot", reason: "GitHub Copilot tokens" },
    HomePath { path: ".claude/.credentials.json", reason: "Claude Code sign-in tokens" },
    HomePath { path: ".codex/auth.json", reason: "Codex CLI sign-in tokens" },
    HomePath { path: ".gemini/oauth_creds.json", reason: "Gemini CLI sign-in tokens" },
    HomePath { path: ".config/doctl", reason: "DigitalOcean API tokens" },
    HomePath { path: ".fly", reason: "Fly.io API tokens" },
    HomePath { path: ".config/Bitwarden CLI", reason: "Bitwarden CLI session and vault data" },
    HomePath { path: ".pki/nssdb", reason: "NSS databases: client certificates and their keys" },
    HomePath { path: ".subversion/auth", reason: "Subversion's cached passwords" },
    HomePath { path: ".m2/settings.xml", reason: "Maven repository passwords" },
    HomePath { path: ".m2/settings-security.xml", reason: "Maven's master password" },
    HomePath { path: ".gradle/gradle.properties", reason: "Gradle publishing credentials" },
    HomePath { path: ".bash_history", reason: "commands typed, passwords and tokens in them" },
    HomePath { path: ".zsh_history", reason: "commands typed, passwords and tokens in them" },
    HomePath { path: ".zhistory", reason: "commands typed, passwords and tokens in them" },
    HomePath {
        path: ".local/share/fish/fish_history",
        reason: "commands typed, passwords and tokens in them",
    },
    HomePath { path: ".python_history", reason: "REPL input, credentials pasted into it" },
    HomePath { path: ".node_repl_history", reason: "REPL input, credentials pasted into it" },
    HomePath { path: ".psql_history", reason: "SQL typed, passwords set in it" },
    HomePath { path: ".mysql_history", reason: "SQL typed, passwords set in it" },
    HomePath { path: ".sqlite_history", reason: "SQL typed" },
    HomePath {
        path: ".viminfo",
        reason: "editor history and registers: text yanked from secret files",
    },
];

/// A path relative to the launcher's `$HOME`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HomePath {
    pub path: &'static str,
    pub reason: &'static str,
}

/// Host trees a profile may never mount into a sandbox.
pub(crate) const FORBIDDEN_MOUNT_ROOTS: &[SystemPath] = &[
    SystemPath { path: "/proc", reason: "the sandbox gets its own /proc" },
    SystemPath { path: "/dev", reason: "the sandbox gets a minimal /dev" },
    SystemPath { path: "/sys", reason: "kernel and device state of the host" },
    SystemPath { path: "/run", reason: "host daemon sockets (docker.sock, D-Bus, ssh-agent)" },
    SystemPath { path: "/var/run", reason: "host daemon sockets" },
    SystemPath {
        path: "/tmp",
        reason: "the sandbox gets a private /tmp (mount a subdirectory instead)",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_prefix_suffix_infix_and_exact() {
        assert!(env_pattern_matches("AWS_*", "AWS_SECRET_ACCESS_KEY"));
        assert!(env_pattern_matches("*_TOKEN", "github_token"));
        assert!(env_pattern_matches("*SECRET*", "MY_SECRET_VALUE"));
        assert!(env_pattern_matches("PATH", "PATH"));
        assert!(!env_pattern_matches("PATH", "PATHS"));
        assert!(!env_pattern_matches("*_TOKEN", "TOKENIZERS_PARALLELISM"));
        assert!(env_pattern_matches("*", "ANYTHING"));
    }

    #[test]
    fn every_table_entry_has_a_reason() {
        for rule in ENV_DENYLIST.iter().chain(ENV_DEFAULT_ALLOW) {
            assert!(!rule.reason.is_empty(), "{}", rule.pattern);
        }
        for path in
            SYSTEM_DIRS.iter().chain(ETC_ENTRIES).chain(DEV_NODES).chain(FORBIDDEN_MOUNT_ROOTS)
        {
            assert!(!path.reason.is_empty(), "{}", path.path);
        }
        for store in SECRET_STORES {
            assert!(!store.reason.is_empty() && !store.path.starts_with('/'), "{}", store.path);
        }
    }
}
