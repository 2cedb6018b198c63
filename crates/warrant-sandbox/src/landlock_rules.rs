//! Landlock for the command: file-system rules that match the mounts, TCP
//! rules for the network mode, scopes for abstract sockets and signals; each
//! then proven by attempting an operation the ruleset must refuse.

use std::io;
use std::path::Path;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::plan::{LANDLOCK_PROBE, MountKind, Plan};
use crate::profile::NetworkMode;
use crate::report::Control;
use crate::sys;
use crate::verify::Evidence;

/// Which parts of Landlock the kernel and the plan allow.
struct Parts {
    abi: ABI,
    net: bool,
    scopes: bool,
}

/// Applies Landlock and records the evidence; returns the kernel's ABI.
pub(crate) fn apply(plan: &Plan, ev: &mut Evidence<'_>) -> u32 {
    let version = match sys::landlock_abi() {
        Ok(version) => version,
        Err(e) if plan.profile.controls.landlock_min_abi.is_some() => {
            let reason =
                format!("Landlock unavailable ({e}) and the profile sets landlock_min_abi");
            ev.require(Control::LandlockFilesystem, "landlock_create_ruleset(VERSION)", reason);
            return 0;
        }
        Err(e) => {
            for control in
                [Control::LandlockFilesystem, Control::LandlockNetwork, Control::LandlockScopes]
            {
                missing_or_not_requested(
                    plan,
                    ev,
                    control,
                    "landlock_create_ruleset(VERSION)",
                    &e.to_string(),
                );
            }
            return 0;
        }
    };
    if let Some(min) = plan.profile.controls.landlock_min_abi
        && version < min
    {
        ev.require(
            Control::LandlockFilesystem,
            "landlock_create_ruleset(VERSION)",
            format!("the kernel's Landlock ABI is {version}, the profile requires at least {min}"),
        );
        return version;
    }
    let abi = ABI::from(i32::try_from(version).unwrap_or(i32::MAX));
    let net_wanted = plan.network.mode != NetworkMode::Host;
    let parts = Parts { abi, net: net_wanted && version >= 4, scopes: version >= 6 };
    if net_wanted && !parts.net {
        ev.missing(
            Control::LandlockNetwork,
            "ABI check",
            format!("needs Landlock ABI 4, the kernel has {version}"),
        );
    } else if !net_wanted {
        ev.not_requested(Control::LandlockNetwork, "host network mode");
    }
    if !parts.scopes {
        ev.missing(
            Control::LandlockScopes,
            "ABI check",
            format!("needs Landlock ABI 6, the kernel has {version}"),
        );
    }

    // The abstract-socket probe needs a listener created outside the domain.
    let probe_name = format!("warrant-landlock-probe-{}", sys::getpid());
    let probe_listener = parts.scopes.then(|| {
        sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)
            .and_then(|s| sys::bind_abstract(&s, probe_name.as_bytes()).map(|()| s))
    });

    match restrict(plan, &parts) {
        Ok(RulesetStatus::FullyEnforced) => {}
        Ok(status) => {
            ev.require(
                Control::LandlockFilesystem,
                "landlock_restrict_self",
                format!("ruleset {status:?}"),
            );
            return version;
        }
        Err(reason) => {
            ev.missing(Control::LandlockFilesystem, "build ruleset", reason);
            return version;
        }
    }

    let denied = |result: io::Result<()>, errno: i32| match result {
        Err(e) if e.raw_os_error() == Some(errno) => Ok(e),
        Err(e) => Err(format!("unexpected error {e}")),
        Ok(()) => Err("succeeded".to_owned()),
    };
    let fs_probe = std::fs::File::open(LANDLOCK_PROBE).map(drop);
    ev.check(
        Control::LandlockFilesystem,
        "probe",
        denied(fs_probe, libc::EACCES)
            .map(|_| format!("ABI {version}; open({LANDLOCK_PROBE}) -> EACCES")),
    );
    if parts.net {
        let port = if plan.network.proxy_port == 1 { 2 } else { 1 };
        let probe = sys::socket(libc::AF_INET, libc::SOCK_STREAM)
            .and_then(|s| sys::connect_loopback_v4(&s, port));
        let allowed = match plan.network.mode {
            NetworkMode::Proxy => {
                format!("; connect allowed only to port {}", plan.network.proxy_port)
            }
            NetworkMode::None | NetworkMode::Host => "; no TCP bind or connect".to_owned(),
        };
        ev.check(
            Control::LandlockNetwork,
            "probe",
            denied(probe, libc::EACCES)
                .map(|_| format!("connect(127.0.0.1:{port}) -> EACCES{allowed}")),
        );
    }
    if parts.scopes {
        let signal = denied(sys::kill(1, 0), libc::EPERM);
        let socket = match probe_listener {
            Some(Ok(_listener)) => denied(
                sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)
                    .and_then(|s| sys::connect_abstract(&s, probe_name.as_bytes())),
                libc::EPERM,
            ),
            Some(Err(e)) => Err(format!("probe listener: {e}")),
            None => Err("no probe listener".to_owned()),
        };
        let evidence = signal.and(socket).map(|_| {
            "kill(init, 0) -> EPERM; connect(abstract socket outside the domain) -> EPERM"
                .to_owned()
        });
        ev.check(Control::LandlockScopes, "probe", evidence);
    }
    version
}

fn missing_or_not_requested(
    plan: &Plan,
    ev: &mut Evidence<'_>,
    control: Control,
    step: &str,
    reason: &str,
) {
    if control == Control::LandlockNetwork && plan.network.mode == NetworkMode::Host {
        ev.not_requested(control, "host network mode");
    } else {
        ev.missing(control, step, format!("Landlock unavailable: {reason}"));
    }
}

/// File-system access for each kind of mount.
fn access_for(kind: &MountKind, abi: ABI) -> Option<BitFlags<AccessFs>> {
    let all = AccessFs::from_all(abi);
    let access = match kind {
        MountKind::BindReadOnly { .. } | MountKind::Copy { .. } => AccessFs::from_read(abi),
        MountKind::BindReadWrite { .. } => all,
        MountKind::Device => {
            (AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev)
                & all
        }
        MountKind::Tmpfs { .. } => all,
        MountKind::Proc => AccessFs::ReadFile | AccessFs::ReadDir,
        // A mask is read-only at the mount and empty; access to it is its
        // enclosing mount's rule, and a rule of its own could only widen it.
        MountKind::Symlink { .. } | MountKind::Dir | MountKind::Mask { .. } => return None,
    };
    Some(access)
}

fn restrict(plan: &Plan, parts: &Parts) -> Result<RulesetStatus, String> {
    let err = |e: landlock::RulesetError| e.to_string();
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(parts.abi))
        .map_err(err)?;
    if parts.net {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(err)?;
    }
    if parts.scopes {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal).map_err(err)?;
    }
    let mut created = ruleset.create().map_err(err)?;
    // Directory listing of the root only: this leaves the probe file unreadable.
    let root = PathFd::new("/").map_err(|e| e.to_string())?;
    created = created.add_rule(PathBeneath::new(root, AccessFs::ReadDir)).map_err(err)?;
    // /etc holds only read-only entries and /dev only device nodes (and its
    // own /dev/shm): one rule each grants exactly what a rule per entry would,
    // with a fraction of the system calls.
    let etc_read = plan.mounts.iter().any(|op| op.target == Path::new("/etc"));
    let dev_nodes = plan.mounts.iter().any(|op| op.kind == MountKind::Device);
    let covered = |op: &crate::plan::MountOp| {
        (etc_read
            && op.target.starts_with("/etc")
            && matches!(op.kind, MountKind::Copy { .. } | MountKind::BindReadOnly { .. }))
            || (dev_nodes && op.kind == MountKind::Device && op.target.starts_with("/dev"))
    };
    if etc_read {
        let fd = PathFd::new("/etc").map_err(|e| format!("/etc: {e}"))?;
        created =
            created.add_rule(PathBeneath::new(fd, AccessFs::from_read(parts.abi))).map_err(err)?;
    }
    if dev_nodes {
        let access = access_for(&MountKind::Device, parts.abi).unwrap_or_default();
        let fd = PathFd::new("/dev").map_err(|e| format!("/dev: {e}"))?;
        created = created.add_rule(PathBeneath::new(fd, access)).map_err(err)?;
    }
    for op in plan.mounts.iter().filter(|op| !covered(op)) {
        let Some(mut access) = access_for(&op.kind, parts.abi) else { continue };
        if op.kind.is_file() {
            access &= AccessFs::from_file(parts.abi);
        }
        let fd = PathFd::new(&op.target).map_err(|e| format!("{}: {e}", op.target.display()))?;
        created = created.add_rule(PathBeneath::new(fd, access)).map_err(err)?;
    }
    if parts.net && plan.network.mode == NetworkMode::Proxy {
        created = created
            .add_rule(NetPort::new(plan.network.proxy_port, AccessNet::ConnectTcp))
            .map_err(err)?;
    }
    created.restrict_self().map(|status| status.ruleset).map_err(err)
}
