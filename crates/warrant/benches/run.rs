//! Start-to-exit of `/bin/true` under `warrant run` (the whole command:
//! identity issued and recorded, the sandbox started and verified, the
//! report and the exit recorded, the identity revoked), against the
//! launcher alone, bubblewrap with comparable isolation (when `bwrap` is on
//! PATH) and no sandbox, all in one run. Prints median and p99 and the
//! ratios; asserts nothing about speed.
//!
//! `cargo bench -p warrant --bench run` (N defaults to 100; `WARRANT_BENCH_N`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use warrant_sandbox::{Profile, Sandbox, SandboxSpec, SpawnOptions};
use warrant_test_support::Warrant;

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn measure(name: &str, n: usize, mut once: impl FnMut()) -> Duration {
    for _ in 0..5 {
        once();
    }
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            once();
            started.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let median = samples[n / 2];
    let p99 = samples[(n * 99 / 100).min(n - 1)];
    println!(
        "{name:<40} N={n:<4} median {:>8.3} ms   p99 {:>8.3} ms",
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    median
}

fn main() {
    let n: usize =
        std::env::var("WARRANT_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let w = Warrant::new(BIN);
    let workspace = w.dir.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    println!("start-to-exit of /bin/true, {n} runs each after 5 warm-up runs");

    let plain = measure("no sandbox", n, || {
        assert!(Command::new("/bin/true").status().unwrap().success());
    });
    let spec = SandboxSpec::new(Profile::builtin("strict").unwrap(), &workspace);
    let sandbox = Sandbox::new(&spec).unwrap();
    let launcher = measure("launcher alone (strict)", n, || {
        let options = SpawnOptions {
            stdin: warrant_sandbox::Stdio::Null,
            stdout: warrant_sandbox::Stdio::Null,
            stderr: warrant_sandbox::Stdio::Null,
            env: None,
            grant: Vec::new(),
        };
        let mut child = sandbox.spawn(&[OsString::from("/bin/true")], options).unwrap();
        assert!(child.wait().unwrap().success());
    });
    let run = measure("warrant run (strict), whole command", n, || {
        let status = w
            .command(&["run", "--", "/bin/true"])
            .current_dir(&workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    });
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("warrant run / launcher median: {:.2}", ratio(run, launcher));
    println!("launcher / no sandbox median:  {:.2}", ratio(launcher, plain));
    if Command::new("bwrap").arg("--version").output().is_ok() {
        let ws = workspace.display().to_string();
        let bwrap = measure("bwrap --unshare-all (comparable mounts)", n, || {
            let status = Command::new("bwrap")
                .args(["--unshare-all", "--die-with-parent", "--new-session"])
                .args(["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin"])
                .args(["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"])
                .args(["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev"])
                .args(["--tmpfs", "/tmp", "--bind", &ws, &ws, "/bin/true"])
                .status()
                .unwrap();
            assert!(status.success());
        });
        println!("launcher / bwrap median:        {:.2}", ratio(launcher, bwrap));
        println!("warrant run / bwrap median:     {:.2}", ratio(run, bwrap));
    } else {
        println!("bwrap: not on PATH (apt-get install bubblewrap), skipped");
    }
}
