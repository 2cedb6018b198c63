//! The host capability probe.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use warrant_sandbox::{Capability, probe};

#[test]
fn probe_reports_each_capability_with_a_hint_when_unavailable() {
    let host = probe();
    eprintln!("{}", serde_json::to_string_pretty(&host).unwrap());
    for capability in [
        Capability::UserNamespaces,
        Capability::MountNamespace,
        Capability::PidNamespace,
        Capability::NetworkNamespace,
        Capability::Landlock,
        Capability::Seccomp,
        Capability::NoNewPrivs,
        Capability::CgroupMemory,
        Capability::CgroupPids,
        Capability::Rlimits,
    ] {
        let check = host.get(capability).unwrap_or_else(|| panic!("{capability:?} not probed"));
        assert!(!check.detail.is_empty());
        assert_eq!(check.how_to_enable.is_some(), !check.available, "{capability:?}");
    }
    assert_eq!(host.available(Capability::LandlockNetwork), host.landlock_abi >= 4);
}
