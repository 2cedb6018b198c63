//! The seccomp deny list, as data, and its compilation to BPF.
//!
//! The filter is a deny list (default allow): the sandbox already confines
//! files, processes and the network with namespaces and Landlock; seccomp
//! removes the kernel interfaces that would let a command undo or bypass that
//! (namespaces, mounts, ptrace) or that carry a large attack surface
//! (io_uring, BPF, perf, keyrings, modules). Denied calls fail with EPERM.
//!
//! Everything compiles to **one** BPF program: an architecture check, the x32
//! guard, then a binary search over the denied syscall numbers, whose leaves
//! either return the errno or enter a small seccompiler program that checks
//! that syscall's arguments. seccompiler alone emits a linear chain of
//! comparisons; the kernel evaluates such a filter for every syscall number
//! when it is installed (to build its cache of always-allowed calls), which
//! cost about 150 microseconds per sandbox here. A search needs a tenth of
//! the steps per number, and the calls the sandbox makes pass fewer checks.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

use crate::error::LaunchError;
use crate::profile::NetworkMode;
pub(crate) use crate::seccomp_list::{Denied, ENOSYS_LIST, When, deny_list};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("warrant-sandbox's seccomp filter supports x86_64 and aarch64 only");

/// A socket address family the sandbox may create sockets of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AllowedFamily {
    pub family: libc::c_int,
    pub name: &'static str,
    pub reason: &'static str,
}

/// Every other family (netlink, packet, vsock, bluetooth, ...) is denied.
const LOCAL_FAMILIES: &[AllowedFamily] = &[AllowedFamily {
    family: libc::AF_UNIX,
    name: "AF_UNIX",
    reason: "local IPC between the command's own processes",
}];
const INET_FAMILIES: &[AllowedFamily] = &[
    AllowedFamily {
        family: libc::AF_UNIX,
        name: "AF_UNIX",
        reason: "local IPC between the command's own processes",
    },
    AllowedFamily {
        family: libc::AF_INET,
        name: "AF_INET",
        reason: "TCP to the egress proxy's forwarder (proxy) or the host network (host)",
    },
    AllowedFamily { family: libc::AF_INET6, name: "AF_INET6", reason: "as AF_INET" },
];

/// The socket families allowed in `mode`.
pub(crate) fn allowed_families(mode: NetworkMode) -> &'static [AllowedFamily] {
    match mode {
        NetworkMode::None => LOCAL_FAMILIES,
        NetworkMode::Proxy | NetworkMode::Host => INET_FAMILIES,
    }
}

/// The filter to install: one BPF program (see the module's documentation).
pub(crate) fn compile(mode: NetworkMode) -> Result<BpfProgram, LaunchError> {
    let mut leaves: BTreeMap<u32, Leaf> = BTreeMap::new();
    let mut deny = rule_map(&deny_list())?;
    let socket_rule = SeccompRule::new(
        allowed_families(mode)
            .iter()
            .map(|f| condition(0, SeccompCmpOp::Ne, u64::from(f.family.unsigned_abs())))
            .collect::<Result<_, _>>()?,
    )
    .map_err(seccomp_err)?;
    deny.entry(libc::SYS_socket).or_default().push(socket_rule);
    for (rules, errno) in [(deny, libc::EPERM), (rule_map(ENOSYS_LIST)?, libc::ENOSYS)] {
        for (nr, rules) in rules {
            let key =
                u32::try_from(nr).map_err(|_| LaunchError::Seccomp(format!("syscall {nr}")))?;
            let leaf = if rules.is_empty() {
                Leaf::Errno(errno.unsigned_abs())
            } else {
                Leaf::Arguments(program(BTreeMap::from([(nr, rules)]), errno)?)
            };
            if leaves.insert(key, leaf).is_some() {
                return Err(LaunchError::Seccomp(format!("syscall {nr} is listed twice")));
            }
        }
    }
    let mut out = arch_check();
    out.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0));
    #[cfg(target_arch = "x86_64")]
    {
        // x86_64's x32 ABI reports the same audit arch as x86_64 but numbers its
        // syscalls from 0x40000000; without this guard every rule could be
        // sidestepped through the x32 entry points.
        const X32_SYSCALL_BIT: u32 = 0x4000_0000;
        out.push(jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1));
        out.push(stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM.unsigned_abs(),
        ));
    }
    let entries: Vec<(u32, &Leaf)> = leaves.iter().map(|(nr, leaf)| (*nr, leaf)).collect();
    let mut entries_to_patch = Vec::new();
    search(&mut out, &entries, &mut entries_to_patch);
    // Each number is searched for once, so each argument check is entered
    // from exactly one leaf: append it and point the leaf's jump at it.
    for (at, program) in entries_to_patch {
        let offset = u32::try_from(out.len() - (at + 1))
            .map_err(|_| LaunchError::Seccomp("jump out of range".into()))?;
        if let Some(instruction) = out.get_mut(at) {
            instruction.k = offset;
        }
        out.extend_from_slice(program);
    }
    if out.len() > usize::from(BPF_MAXINSNS) {
        return Err(LaunchError::Seccomp(format!("{} instructions", out.len())));
    }
    Ok(out)
}

/// The kernel's limit on a classic BPF program.
const BPF_MAXINSNS: u16 = 4096;
/// Entries a leaf of the search compares one by one.
const LEAF_SIZE: usize = 4;

/// What happens to one denied syscall number.
enum Leaf {
    /// Always refused with this errno.
    Errno(u32),
    /// Refused when its arguments match: a seccompiler program for this
    /// syscall alone (its own arch check, its rules, allow otherwise).
    Arguments(BpfProgram),
}

/// Emits a binary search over `entries` (sorted by number; the syscall number
/// is in the accumulator). Every conditional jump stays within a few
/// instructions; the far ones are `JA`, whose offset has 32 bits. Jumps into
/// argument checks are left for the caller to patch, listed in `patch`.
fn search<'l>(
    out: &mut BpfProgram,
    entries: &[(u32, &'l Leaf)],
    patch: &mut Vec<(usize, &'l BpfProgram)>,
) {
    if entries.len() <= LEAF_SIZE {
        for (nr, leaf) in entries {
            out.push(jump(libc::BPF_JEQ, *nr, 0, 1));
            match leaf {
                Leaf::Errno(errno) => {
                    out.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ERRNO | errno))
                }
                Leaf::Arguments(program) => {
                    patch.push((out.len(), program));
                    out.push(stmt(libc::BPF_JMP | libc::BPF_JA, 0));
                }
            }
        }
        out.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
        return;
    }
    let (low, high) = entries.split_at(entries.len() / 2);
    let pivot = high.first().map_or(0, |(nr, _)| *nr);
    // nr >= pivot: take the JA to the upper half; otherwise skip it.
    out.push(jump(libc::BPF_JGE, pivot, 0, 1));
    let to_high = out.len();
    out.push(stmt(libc::BPF_JMP | libc::BPF_JA, 0));
    search(out, low, patch);
    let offset = u32::try_from(out.len() - (to_high + 1)).unwrap_or(u32::MAX);
    if let Some(instruction) = out.get_mut(to_high) {
        instruction.k = offset;
    }
    search(out, high, patch);
}

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter { code: u16::try_from(code).unwrap_or(u16::MAX), jt: 0, jf: 0, k }
}

fn jump(condition: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    let code = libc::BPF_JMP | condition | libc::BPF_K;
    sock_filter { code: u16::try_from(code).unwrap_or(u16::MAX), jt, jf, k }
}

/// A call from another architecture (i386 compat on x86_64, say) numbers its
/// syscalls differently: kill the process, as seccompiler does.
fn arch_check() -> BpfProgram {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4),
        jump(libc::BPF_JEQ, AUDIT_ARCH, 1, 0),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_KILL_PROCESS),
    ]
}

/// Everything the seccomp filter denies in `mode`, with the reason for each
/// entry (for audits and `warrant doctor`).
pub fn seccomp_deny_list(mode: NetworkMode) -> Vec<(String, &'static str)> {
    let mut list: Vec<_> =
        deny_list().iter().chain(ENOSYS_LIST).map(|d| (d.name.to_owned(), d.reason)).collect();
    let allowed: Vec<_> =
        allowed_families(mode).iter().map(|f| format!("{} ({})", f.name, f.reason)).collect();
    list.push((
        format!("socket(family not in {})", allowed.join(", ")),
        "netlink, packet and other families expose kernel attack surface and host network state",
    ));
    list
}

pub(crate) fn denied_names(mode: NetworkMode) -> Vec<String> {
    seccomp_deny_list(mode).into_iter().map(|(name, _)| name).collect()
}

fn seccomp_err(source: seccompiler::BackendError) -> LaunchError {
    LaunchError::SeccompBackend { source }
}

fn condition(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, LaunchError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(seccomp_err)
}

/// Groups entries by syscall number. An unconditional entry makes the
/// syscall's rule list empty, which seccompiler treats as "always matches".
fn rule_map(entries: &[Denied]) -> Result<BTreeMap<i64, Vec<SeccompRule>>, LaunchError> {
    let mut always = Vec::new();
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for entry in entries {
        let nr = entry.nr;
        let cond = match entry.when {
            When::Always => {
                always.push(nr);
                continue;
            }
            When::ArgEq { arg, value } => condition(arg, SeccompCmpOp::Eq, value)?,
            When::ArgHasBits { arg, mask } => condition(arg, SeccompCmpOp::MaskedEq(mask), mask)?,
        };
        rules.entry(nr).or_default().push(SeccompRule::new(vec![cond]).map_err(seccomp_err)?);
    }
    for nr in always {
        rules.insert(nr, Vec::new());
    }
    Ok(rules)
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: libc::c_int,
) -> Result<BpfProgram, LaunchError> {
    let errno = u32::try_from(errno).map_err(|_| LaunchError::Seccomp("negative errno".into()))?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno), ARCH)
        .map_err(seccomp_err)?;
    BpfProgram::try_from(filter).map_err(seccomp_err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    const MODES: [NetworkMode; 3] = [NetworkMode::None, NetworkMode::Proxy, NetworkMode::Host];

    /// What the kernel hands a filter: `struct seccomp_data`.
    struct Data {
        nr: u32,
        arch: u32,
        args: [u64; 6],
    }

    impl Data {
        fn word(&self, offset: u32) -> u32 {
            match offset {
                0 => self.nr,
                4 => self.arch,
                16..=63 if offset.is_multiple_of(4) => {
                    let arg = self.args[((offset - 16) / 8) as usize];
                    if offset.is_multiple_of(8) { arg as u32 } else { (arg >> 32) as u32 }
                }
                other => panic!("load from offset {other}"),
            }
        }
    }

    /// A classic-BPF interpreter for the instructions seccomp filters use.
    /// Returns the filter's verdict and the number of instructions executed.
    fn run(program: &[sock_filter], data: &Data) -> (u32, usize) {
        let (mut pc, mut a, mut steps) = (0usize, 0u32, 0usize);
        loop {
            let ins = &program[pc];
            pc += 1;
            steps += 1;
            let cond = |taken: bool| usize::from(if taken { ins.jt } else { ins.jf });
            let code = u32::from(ins.code);
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => a = data.word(ins.k),
                c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= ins.k,
                c if c == libc::BPF_JMP | libc::BPF_JA => pc += ins.k as usize,
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => pc += cond(a == ins.k),
                c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => pc += cond(a > ins.k),
                c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => pc += cond(a >= ins.k),
                c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => {
                    pc += cond(a & ins.k != 0)
                }
                c if c == libc::BPF_RET | libc::BPF_K => return (ins.k, steps),
                other => panic!("opcode {other:#x} at {}", pc - 1),
            }
        }
    }

    /// The filters as seccompiler alone built them (before the search): the
    /// x32 guard, the EPERM list, the ENOSYS list, installed in that order.
    fn reference(mode: NetworkMode) -> Vec<BpfProgram> {
        let stmt = |code: u32, k: u32| sock_filter { code: code as u16, jt: 0, jf: 0, k };
        let x32 = vec![
            stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
            sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16,
                jt: 0,
                jf: 1,
                k: 0x4000_0000,
            },
            stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
            stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        ];
        let mut rules = rule_map(&deny_list()).unwrap();
        let socket = SeccompRule::new(
            allowed_families(mode)
                .iter()
                .map(|f| condition(0, SeccompCmpOp::Ne, f.family as u64).unwrap())
                .collect(),
        )
        .unwrap();
        rules.entry(libc::SYS_socket).or_default().push(socket);
        vec![
            x32,
            program(rules, libc::EPERM).unwrap(),
            program(rule_map(ENOSYS_LIST).unwrap(), libc::ENOSYS).unwrap(),
        ]
    }

    /// The kernel's verdict for a stack of filters: the most restrictive
    /// action wins; among equals, the most recently installed filter's.
    fn stacked(filters: &[BpfProgram], data: &Data) -> u32 {
        let mut verdict = libc::SECCOMP_RET_ALLOW;
        for filter in filters.iter().rev() {
            let (ret, _) = run(filter, data);
            let action = |v: u32| (v & libc::SECCOMP_RET_ACTION_FULL) as i32;
            if action(ret) < action(verdict) {
                verdict = ret;
            }
        }
        verdict
    }

    fn argument_cases() -> Vec<[u64; 6]> {
        let mut cases = vec![[0; 6]];
        let firsts: Vec<u64> = (0..48)
            .chain([
                libc::CLONE_NEWUSER as u64,
                (libc::CLONE_NEWNS | libc::SIGCHLD) as u64,
                0x80,
                libc::CLONE_NEWNET as u64,
                libc::CLONE_NEWPID as u64 | libc::CLONE_NEWIPC as u64,
                libc::CLONE_NEWCGROUP as u64,
                libc::CLONE_NEWUTS as u64,
                (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::SIGCHLD) as u64,
                0x1_0000_0000 | libc::AF_UNIX as u64,
                0x1_0000_0000 | libc::CLONE_NEWUSER as u64,
                u64::MAX,
            ])
            .collect();
        for first in firsts {
            cases.push([first, 0, 0, 0, 0, 0]);
        }
        for second in
            [libc::TIOCSTI, libc::TIOCLINUX, libc::FIONREAD, 0x1_0000_0000 | libc::TIOCSTI]
        {
            cases.push([1, second, 0, 0, 0, 0]);
        }
        cases
    }

    #[test]
    fn the_single_program_decides_exactly_as_the_filters_it_replaced() {
        let native = {
            let check = arch_check();
            check[1].k
        };
        let numbers: Vec<u32> = (0..700)
            .chain([0x4000_0000, 0x4000_0029, 0x4000_0065, 0x4000_01a9, u32::MAX])
            .collect();
        let cases = argument_cases();
        for mode in MODES {
            let single = compile(mode).unwrap();
            let old = reference(mode);
            let mut compared = 0;
            for arch in [native, 0x4000_0003, 0] {
                for &nr in &numbers {
                    for args in &cases {
                        let data = Data { nr, arch, args: *args };
                        let (got, _) = run(&single, &data);
                        let want = stacked(&old, &data);
                        assert_eq!(got, want, "{mode:?} arch {arch:#x} nr {nr} args {args:x?}");
                        compared += 1;
                    }
                }
            }
            assert!(compared > 100_000);
        }
    }

    #[test]
    fn every_syscall_number_is_decided_in_a_few_steps() {
        // The kernel runs the filter for every number when it is installed;
        // seccompiler's linear chain takes well over a hundred steps for most.
        let native = arch_check()[1].k;
        let steps = |program: &[sock_filter]| {
            let mut steps: Vec<usize> = (0..700)
                .map(|nr| run(program, &Data { nr, arch: native, args: [0; 6] }).1)
                .collect();
            steps.sort_unstable();
            (steps[steps.len() / 2], steps[steps.len() - 1])
        };
        for mode in MODES {
            let (median, longest) = steps(&compile(mode).unwrap());
            // The longest paths go on into an argument check (socket's families).
            assert!(median <= 20 && longest <= 64, "{mode:?}: median {median}, longest {longest}");
            let (linear, _) = steps(&reference(mode)[1]);
            assert!(linear > 5 * median, "{mode:?}: linear median {linear}, search {median}");
        }
    }

    /// `compile` refuses a number listed under both errnos; the shipped lists
    /// must therefore be disjoint.
    #[test]
    fn the_eperm_and_enosys_lists_are_disjoint() {
        let mut leaves = rule_map(&deny_list()).unwrap();
        leaves.extend(rule_map(ENOSYS_LIST).unwrap());
        assert_eq!(
            leaves.len(),
            rule_map(&deny_list()).unwrap().len() + rule_map(ENOSYS_LIST).unwrap().len(),
            "the EPERM and ENOSYS lists must be disjoint"
        );
    }

    #[test]
    fn every_entry_has_a_reason() {
        for entry in deny_list().iter().chain(ENOSYS_LIST) {
            assert!(!entry.reason.is_empty(), "{}", entry.name);
        }
        for family in allowed_families(NetworkMode::Host) {
            assert!(!family.reason.is_empty(), "{}", family.name);
        }
    }

    #[test]
    fn deny_list_names_the_brief_syscalls() {
        let names = denied_names(NetworkMode::None);
        assert!(names.last().unwrap().contains("AF_UNIX"));
        for needed in
            ["ptrace", "io_uring_setup", "bpf", "unshare", "mount", "ioctl(TIOCSTI)", "userfaultfd"]
        {
            assert!(names.iter().any(|n| n == needed), "{needed}");
        }
    }
}
