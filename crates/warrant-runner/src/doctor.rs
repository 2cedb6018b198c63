//! `warrant doctor`: what this host can enforce, control by control, and
//! whether each shipped profile starts here.

use serde::Serialize;
use std::ffi::OsString;
use warrant_sandbox::{NetworkMode, Profile, Sandbox};
use warrant_state::config::SandboxSettings;

/// `warrant doctor`: what this host can enforce, and whether each shipped
/// profile actually starts here (tried, not inferred).
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    pub host: warrant_sandbox::HostProbe,
    pub profiles: Vec<ProfileCheck>,
    /// Whether the OS keychain can cache the vault's key (`[vault]
    /// key_cache`), and if not, why.
    pub keychain: KeychainCheck,
    /// `[sandbox] cgroup_parent` from the home's config, used for the
    /// profile checks, when set.
    pub cgroup_parent: Option<std::path::PathBuf>,
}

/// The OS keychain, for the vault's optional key cache.
#[derive(Debug, Serialize)]
pub struct KeychainCheck {
    pub available: bool,
    pub detail: String,
}

/// One shipped profile, launched with `/bin/true`.
#[derive(Debug, Serialize)]
pub struct ProfileCheck {
    pub profile: String,
    pub runs: bool,
    /// Why it refused, naming the control and how to enable it.
    pub error: Option<String>,
    /// Each control's status in the report of that launch.
    pub controls: Vec<(String, String)>,
}

/// `sandbox`: the home's `[sandbox]` settings, so the profile checks start
/// sandboxes as `warrant run` would.
pub fn doctor(sandbox: &SandboxSettings) -> DoctorReport {
    let host = warrant_sandbox::probe();
    let profiles = Profile::builtin_names().map(|name| check_profile(name, sandbox)).collect();
    let keychain = match warrant_vault::KeyCache::available() {
        Ok(()) => KeychainCheck {
            available: true,
            detail: "the kernel's user keyring: `[vault] key_cache` can keep the vault's key"
                .into(),
        },
        Err(why) => KeychainCheck {
            available: false,
            detail: format!(
                "{}; the vault's passphrase is asked for at every unlock",
                warrant_core::text::with_causes(&why)
            ),
        },
    };
    DoctorReport { host, profiles, keychain, cgroup_parent: sandbox.cgroup_parent.clone() }
}

fn check_profile(name: &str, sandbox: &SandboxSettings) -> ProfileCheck {
    let failed = |error: String| ProfileCheck {
        profile: name.to_owned(),
        runs: false,
        error: Some(error),
        controls: Vec::new(),
    };
    let Ok(profile) = Profile::builtin(name) else { return failed("not a shipped profile".into()) };
    let dir = match tempfile::Builder::new().prefix("warrant-doctor-").tempdir() {
        Ok(dir) => dir,
        Err(e) => return failed(format!("cannot make a scratch workspace: {e}")),
    };
    let workspace = dir.path().join("workspace");
    if let Err(e) = std::fs::create_dir(&workspace) {
        return failed(format!("cannot make a scratch workspace: {e}"));
    }
    let mut spec = sandbox.spec(profile.clone(), &workspace);
    // A socket that answers nothing: enough to start a proxy-mode sandbox.
    let _listener;
    if profile.network.mode == NetworkMode::Proxy {
        let socket = dir.path().join("egress.sock");
        match std::os::unix::net::UnixListener::bind(&socket) {
            Ok(l) => _listener = l,
            Err(e) => return failed(format!("cannot make a scratch socket: {e}")),
        }
        spec = spec.with_proxy_socket(&socket);
    }
    let output = Sandbox::new(&spec).and_then(|s| s.run(&[OsString::from("/bin/true")], 4096));
    match output {
        Ok(output) => ProfileCheck {
            profile: name.to_owned(),
            runs: output.status.success(),
            error: (!output.status.success())
                .then(|| format!("`/bin/true` ended with {:?}", output.status)),
            controls: output
                .report
                .controls
                .iter()
                .map(|c| (c.control.name().to_owned(), format!("{:?}", c.status).to_lowercase()))
                .collect(),
        },
        Err(e) => failed(e.to_string()),
    }
}
