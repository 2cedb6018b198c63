//! Start-to-exit latency of `/bin/true`: plain `std::process::Command`, the
//! launcher with the `strict` profile, and bubblewrap with comparable isolation
//! (skipped when `bwrap` is not on PATH), interleaved round by round: back to
//! back and 10 ms apart, without and then with the namespace pool. Prints
//! figures; never fails on speed.
//!
//! `cargo bench -p warrant-sandbox --bench start` (N defaults to 300; set
//! `WARRANT_BENCH_N` to change it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use warrant_sandbox::{Profile, Sandbox, SandboxSpec, SpawnOptions, Stdio};

struct Stats {
    n: usize,
    median: Duration,
    p99: Duration,
}

/// Runs every path once per round, in turn (`pace` apart), for `n` rounds
/// after 10 warm-up rounds: the paths see the same machine at the same moments, so their
/// ratios hold even when the machine's speed drifts during the run.
fn measure_interleaved(
    n: usize,
    pace: Duration,
    paths: &mut [(&str, &mut dyn FnMut())],
) -> Vec<Stats> {
    let mut samples: Vec<Vec<Duration>> = paths.iter().map(|_| Vec::with_capacity(n)).collect();
    for round in 0..n + 10 {
        std::thread::sleep(pace);
        for ((_, once), samples) in paths.iter_mut().zip(samples.iter_mut()) {
            let start = Instant::now();
            once();
            if round >= 10 {
                samples.push(start.elapsed());
            }
        }
    }
    paths
        .iter()
        .zip(samples.iter_mut())
        .map(|((name, _), samples)| {
            samples.sort_unstable();
            let stats =
                Stats { n, median: samples[n / 2], p99: samples[(n * 99 / 100).min(n - 1)] };
            println!(
                "{name:<44} N={:<5} median {:>8.3} ms   p99 {:>8.3} ms",
                stats.n,
                ms(stats.median),
                ms(stats.p99)
            );
            stats
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn bwrap_args(workspace: &Path) -> Vec<String> {
    let mut args: Vec<String> =
        ["--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
            .map(String::from)
            .to_vec();
    for dir in ["/bin", "/sbin", "/lib", "/lib64"] {
        let path = Path::new(dir);
        match std::fs::read_link(path) {
            Ok(target) => {
                args.extend(["--symlink".into(), target.display().to_string(), dir.into()])
            }
            Err(_) if path.is_dir() => args.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            Err(_) => {}
        }
    }
    let ws = workspace.display().to_string();
    args.extend(["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"].map(String::from));
    args.extend(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"].map(String::from));
    args.extend(["--bind".to_owned(), ws.clone(), ws, "/bin/true".to_owned()]);
    args
}

fn main() {
    let n: usize =
        std::env::var("WARRANT_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let workspace = tempfile::tempdir().unwrap();
    println!("start-to-exit of /bin/true, {n} runs each after 10 warm-up runs");

    let spec = SandboxSpec::new(Profile::builtin("strict").unwrap(), workspace.path());
    let sandbox = Sandbox::new(&spec).unwrap();
    let quiet = || SpawnOptions {
        stdin: Stdio::Null,
        stdout: Stdio::Null,
        stderr: Stdio::Null,
        env: None,
        grant: Vec::new(),
    };
    let mut plain = || assert!(Command::new("/bin/true").status().unwrap().success());
    let mut launcher = || {
        let mut child = sandbox.spawn(&["/bin/true".into()], quiet()).unwrap();
        assert!(child.wait().unwrap().success());
    };
    let mut launcher_new = || {
        let sandbox = Sandbox::new(&spec).unwrap();
        let mut child = sandbox.spawn(&["/bin/true".into()], quiet()).unwrap();
        assert!(child.wait().unwrap().success());
    };
    let args = bwrap_args(workspace.path());
    let mut bwrap = || {
        let status = Command::new("bwrap").args(&args).status().unwrap();
        assert!(status.success(), "bwrap failed: {status}");
    };
    let with_bwrap = on_path("bwrap");
    if !with_bwrap {
        println!("bwrap: skipped (not on PATH; `apt-get install bubblewrap` to compare)");
    }
    // Back to back, then with 10 ms between rounds, as an agent's calls come
    // (the pool's helper then works while nothing is launching). The pool is
    // process-wide, so its phases come last.
    let pace = Duration::from_millis(10);
    for (pool, pace) in
        [(false, Duration::ZERO), (false, pace), (true, Duration::ZERO), (true, pace)]
    {
        if pool {
            warrant_sandbox::enable_namespace_pool(2);
        }
        println!(
            "\n{}, {}",
            if pool { "namespace pool on (2 pairs made ahead)" } else { "no namespace pool" },
            if pace.is_zero() { "back to back".to_owned() } else { format!("{pace:?} apart") }
        );
        let mut paths: Vec<(&str, &mut dyn FnMut())> = vec![
            ("plain std::process::Command", &mut plain),
            ("warrant-sandbox, strict (prepared Sandbox)", &mut launcher),
        ];
        if !pool && pace.is_zero() {
            paths.push(("warrant-sandbox, strict (Sandbox::new each)", &mut launcher_new));
        }
        if with_bwrap {
            paths.push(("bwrap --unshare-all (comparable mounts)", &mut bwrap));
        }
        let names: Vec<&str> = paths.iter().map(|(name, _)| *name).collect();
        let stats = measure_interleaved(n, pace, &mut paths);
        let ratio = |a: usize, b: usize| {
            let (x, y) = (&stats[a], &stats[b]);
            println!(
                "  {} / {}: median {:.2}, p99 {:.2}",
                names[a],
                names[b],
                ms(x.median) / ms(y.median),
                ms(x.p99) / ms(y.p99)
            );
        };
        ratio(1, 0);
        if with_bwrap {
            let bwrap = stats.len() - 1;
            for launcher in 1..bwrap {
                ratio(launcher, bwrap);
            }
        }
    }
}
