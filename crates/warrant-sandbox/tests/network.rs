//! Network containment: no host sockets, no host TCP/UDP, and in `proxy` mode
//! exactly one way out, to the caller's Unix socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Duration;

use common::{Fixture, assert_denied, skip_unless, strict, strict_needs, verdict};
use warrant_sandbox::{
    Capability, Control, NetworkMode, Profile, Sandbox, SandboxSpec, SpawnOptions, Stdio,
};

const PROXY_PORT: &str = "3128";

/// A Unix echo server standing in for the gateway's egress proxy.
fn echo_server(path: &std::path::Path) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).unwrap();
            stream.write_all(&buf).unwrap();
        }
    })
}

fn proxy_spec(fixture: &Fixture, socket: &std::path::Path) -> SandboxSpec {
    let mut profile = strict();
    profile.network.mode = NetworkMode::Proxy;
    fixture.spec(profile).with_proxy_socket(socket)
}

fn proxy_needs() -> Vec<Capability> {
    strict_needs()
}

#[test]
fn a_host_unix_socket_outside_the_workspace_cannot_be_connected() {
    if skip_unless("a_host_unix_socket_outside_the_workspace_cannot_be_connected", &strict_needs())
    {
        return;
    }
    let fixture = Fixture::new();
    let socket = fixture.outside.join("docker.sock");
    let _listener = UnixListener::bind(&socket).unwrap();
    assert_denied(
        &fixture,
        &fixture.spec(strict()),
        "connect-unix",
        &[socket.to_str().unwrap()],
        libc::ENOENT,
    );
}

#[test]
fn an_abstract_socket_on_the_host_cannot_be_reached() {
    if skip_unless("an_abstract_socket_on_the_host_cannot_be_reached", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let name = format!("warrant-test-abstract-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    // `none`: a different network namespace has different abstract names.
    assert_denied(
        &fixture,
        &fixture.spec(strict()),
        "connect-abstract",
        &[&name],
        libc::ECONNREFUSED,
    );
    // `host`: same namespace, so only Landlock's abstract-socket scope stands in the way.
    let mut host = strict();
    host.network.mode = NetworkMode::Host;
    assert_denied(&fixture, &fixture.spec(host), "connect-abstract", &[&name], libc::EPERM);
    assert!(listener.accept().is_err(), "the host listener was reached");
}

#[test]
fn direct_tcp_to_a_host_listener_fails_in_none_and_proxy_modes() {
    if skip_unless("direct_tcp_to_a_host_listener_fails_in_none_and_proxy_modes", &proxy_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    // `none`: seccomp refuses to create the socket at all.
    assert_denied(&fixture, &fixture.spec(strict()), "connect-tcp", &[&target], libc::EPERM);
    assert_denied(&fixture, &fixture.spec(strict()), "socket-inet", &[], libc::EPERM);
    // `proxy`: Landlock refuses every port but the forwarder's.
    let socket = fixture.outside.join("proxy.sock");
    let _proxy = UnixListener::bind(&socket).unwrap();
    assert_denied(
        &fixture,
        &proxy_spec(&fixture, &socket),
        "connect-tcp",
        &[&target],
        libc::EACCES,
    );
    assert_denied(
        &fixture,
        &proxy_spec(&fixture, &socket),
        "connect-tcp",
        &["[::1]:22"],
        libc::EACCES,
    );
    assert!(listener.accept().is_err(), "the host listener was reached");
}

#[test]
fn udp_never_leaves_the_sandbox() {
    if skip_unless("udp_never_leaves_the_sandbox", &proxy_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let target = receiver.local_addr().unwrap().to_string();
    assert_denied(&fixture, &fixture.spec(strict()), "udp-send", &[&target], libc::EPERM);
    // `proxy` mode allows UDP sockets, but the namespace's loopback is not the host's.
    let socket = fixture.outside.join("proxy.sock");
    let _proxy = UnixListener::bind(&socket).unwrap();
    let sent = verdict(&fixture, &proxy_spec(&fixture, &socket), "udp-send", &[&target]);
    assert!(sent.contains("allowed") || sent.contains("denied"), "{sent}");
    let mut buf = [0u8; 64];
    assert!(receiver.recv_from(&mut buf).is_err(), "a datagram reached the host");
}

#[test]
fn proxy_mode_forwards_the_port_to_the_host_socket_and_nothing_else() {
    if skip_unless(
        "proxy_mode_forwards_the_port_to_the_host_socket_and_nothing_else",
        &proxy_needs(),
    ) {
        return;
    }
    let fixture = Fixture::new();
    let socket = fixture.outside.join("egress.sock");
    let server = echo_server(&socket);
    let spec = proxy_spec(&fixture, &socket);
    let echoed = verdict(&fixture, &spec, "proxy-echo", &[PROXY_PORT, "hello-through-the-proxy"]);
    assert_eq!(echoed, "proxy-echo: allowed echo=hello-through-the-proxy");
    server.join().unwrap();
    // The socket itself is not in the sandbox, and init's O_PATH descriptor of
    // it cannot be followed through /proc/1/fd.
    assert_denied(&fixture, &spec, "connect-unix", &[socket.to_str().unwrap()], libc::ENOENT);
    let helper = fixture.helper.display();
    let script =
        format!("for fd in /proc/1/fd/*; do {helper} connect-unix $fd; {helper} read $fd; done");
    let output = common::run(&spec, &common::sh(&script));
    let verdicts = common::stdout(&output);
    // As root the listing shows init's descriptors; otherwise even listing is
    // refused and the glob stays literal. Either way nothing can be opened.
    // (Init closes its copies of the command's stdio once the command has
    // exec'd, so those may be listed and then gone: ENOENT.)
    let refused = verdicts.lines().filter(|l| l.contains("denied errno=13 ")).count();
    assert!(refused >= 2, "{verdicts}");
    assert!(
        verdicts.lines().all(|l| l.contains("denied errno=13 ") || l.contains("denied errno=2 ")),
        "{verdicts}"
    );
    assert_denied(&fixture, &spec, "connect-tcp", &["127.0.0.1:3129"], libc::EACCES);
}

#[test]
fn proxy_round_trip_carries_large_payloads() {
    if skip_unless("proxy_round_trip_carries_large_payloads", &proxy_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let socket = fixture.outside.join("egress.sock");
    let server = echo_server(&socket);
    let mut profile = Profile::builtin("coding-agent").unwrap();
    profile.network.proxy_port = 8080;
    let spec = SandboxSpec::new(profile, &fixture.workspace).with_proxy_socket(&socket);
    // Several forwarder buffers worth (one argv string is capped at 128 KiB).
    let payload = "x".repeat(100_000);
    let echoed = verdict(&fixture, &spec, "proxy-echo", &["8080", &payload]);
    assert_eq!(echoed.len(), "proxy-echo: allowed echo=".len() + payload.len());
    server.join().unwrap();
}

/// The evidence a report gives for `control`.
fn evidence(report: &warrant_sandbox::Report, control: Control) -> String {
    report.get(control).map(|c| c.evidence.clone()).unwrap_or_default()
}

#[test]
fn namespaces_made_ahead_serve_one_sandbox_each() {
    let Some((_fixture, sandbox)) =
        common::strict_sandbox("namespaces_made_ahead_serve_one_sandbox_each")
    else {
        return;
    };
    warrant_sandbox::enable_namespace_pool(2);
    let mut seen: HashSet<String> = ["user", "net"]
        .iter()
        .map(|ns| std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap())
        .map(|link| link.display().to_string())
        .collect();
    // The sandboxes stay alive until the end: a namespace's inode number is
    // only unique while the namespace exists.
    let mut running = Vec::new();
    for _ in 0..4 {
        // The pool makes a pair in a few milliseconds.
        std::thread::sleep(Duration::from_millis(300));
        let options = SpawnOptions { stdout: Stdio::Piped, ..SpawnOptions::default() };
        let script = "readlink /proc/self/ns/user /proc/self/ns/net; exec sleep 60";
        let mut child = sandbox.spawn(&common::sh(script), options).unwrap();
        for control in [Control::UserNamespace, Control::NetworkNamespace] {
            let evidence = evidence(child.report(), control);
            assert!(evidence.contains("made ahead by the namespace pool"), "{evidence}");
        }
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        for _ in 0..2 {
            let mut link = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut link).unwrap();
            let link = link.trim().to_owned();
            assert!(link.starts_with("user:[") || link.starts_with("net:["), "{link}");
            assert!(seen.insert(link.clone()), "{link} was already in use");
        }
        running.push(child);
    }
    assert_eq!(warrant_sandbox::namespace_pool_failure(), None);
    for mut child in running {
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}

#[test]
fn proxy_mode_works_in_a_network_namespace_made_ahead() {
    if skip_unless("proxy_mode_works_in_a_network_namespace_made_ahead", &proxy_needs()) {
        return;
    }
    warrant_sandbox::enable_namespace_pool(1);
    std::thread::sleep(Duration::from_millis(300));
    let fixture = Fixture::new();
    let socket = fixture.outside.join("egress.sock");
    let server = echo_server(&socket);
    let spec = proxy_spec(&fixture, &socket);
    let sandbox = Sandbox::new(&spec).unwrap();
    let command = fixture.attempt("proxy-echo", &[PROXY_PORT, "through-a-namespace-made-ahead"]);
    let output = sandbox.run(&command, 4096).unwrap();
    let evidence = evidence(&output.report, Control::NetworkNamespace);
    assert!(evidence.contains("made ahead by the namespace pool"), "{evidence}");
    // Init listens on the namespace's loopback, which the pool's helper brought up.
    assert_eq!(
        common::stdout(&output).trim(),
        "proxy-echo: allowed echo=through-a-namespace-made-ahead"
    );
    server.join().unwrap();
}

/// The pool's helper and the starter's `setns` need no privilege: a user may
/// join the namespaces its own helper made. As root this runs the helper as
/// uid 65534; as anyone else, as that user.
#[test]
fn an_unprivileged_launcher_joins_namespaces_made_ahead() {
    use std::os::unix::fs::{PermissionsExt, chown};
    if skip_unless("an_unprivileged_launcher_joins_namespaces_made_ahead", &strict_needs()) {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let workspace = base.path().join("ws");
    std::fs::create_dir(&workspace).unwrap();
    let fixture = Fixture::new();
    let mut command = if common::is_root() {
        chown(&workspace, Some(65534), Some(65534)).unwrap();
        let mut setpriv = std::process::Command::new("setpriv");
        setpriv.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"]);
        setpriv.arg(&fixture.helper);
        setpriv
    } else {
        std::process::Command::new(&fixture.helper)
    };
    let out = command.arg("launch-pooled").arg(&workspace).env("HOME", "/").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("launch-pooled: allowed exit=Some(0) net=")
            && stdout.contains("made ahead by the namespace pool"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
