"""Memory of a process tree, from /proc: what a proxy costs while it serves.

A sampler thread walks the tree under one process (through
/proc/PID/task/TID/children) every half second and keeps, per process, its
latest VmRSS and the highest VmHWM (the kernel's own peak) seen. Processes
that run the upstream server's script are counted apart, so a proxy
that runs one server per session shows it.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
import contextlib


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def tree(root: int) -> list[int]:
    """The root and every descendant still alive, parents first."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid in seen or not os.path.exists(f"/proc/{pid}"):
            continue
        seen.append(pid)
        todo.extend(children(pid))
    return seen


def memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB, or None once the process is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if "VmRSS" not in values:
        return None  # a zombie
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def runs_script(argv: list[str], script: str) -> bool:
    """Whether `argv` runs `script` (node [options] SCRIPT ...), rather than
    merely naming it (a proxy's command line names the server it starts)."""
    rest = argv[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in ("--import", "--require", "-r") else rest[1:]
    return rest[:1] == [script]


@dataclass
class Memory:
    """What a proxy's tree held; KiB throughout."""

    procs_peak: int
    servers_peak: int
    tree_rss_end: int
    tree_rss_peak: int
    proxy_rss_end: int
    proxy_hwm: int
    server_rss_end: int


class Sampler(threading.Thread):
    def __init__(self, root: int, server_script: str, interval_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.server_script = server_script
        self.interval_s = interval_s
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.is_server: dict[int, bool] = {}
        self.cmdlines: dict[int, str] = {}
        self.hwm: dict[int, int] = {}
        self.procs_peak = self.servers_peak = self.tree_rss_peak = 0
        self.last: dict[int, int] = {}

    def sample(self) -> None:
        rss: dict[int, int] = {}
        for pid in tree(self.root):
            mem = memory_kb(pid)
            if mem is None:
                continue
            if pid not in self.is_server:
                argv = cmdline(pid)
                self.cmdlines[pid] = " ".join(argv)
                self.is_server[pid] = runs_script(argv, self.server_script)
            rss[pid] = mem[0]
            self.hwm[pid] = max(self.hwm.get(pid, 0), mem[1])
        with self.lock:
            self.last = rss
            self.procs_peak = max(self.procs_peak, len(rss))
            self.servers_peak = max(self.servers_peak, sum(1 for p in rss if self.is_server[p]))
            self.tree_rss_peak = max(self.tree_rss_peak, sum(rss.values()))

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            self.sample()

    def finish(self) -> Memory:
        self.stopped.set()
        self.join()
        self.sample()
        with self.lock:
            last = self.last
            proxy = [p for p in self.hwm if not self.is_server[p]]
            return Memory(
                procs_peak=self.procs_peak,
                servers_peak=self.servers_peak,
                tree_rss_end=sum(last.values()),
                tree_rss_peak=self.tree_rss_peak,
                proxy_rss_end=sum(v for p, v in last.items() if not self.is_server[p]),
                proxy_hwm=sum(self.hwm[p] for p in proxy),
                server_rss_end=sum(v for p, v in last.items() if self.is_server[p]),
            )

    def kill_leftovers(self) -> None:
        """SIGKILL every process ever seen in the tree that still runs the same
        command (a child that left the process group, e.g. by setsid)."""
        for pid, line in self.cmdlines.items():
            if line and " ".join(cmdline(pid)) == line:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
