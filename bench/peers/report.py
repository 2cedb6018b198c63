"""The benchmark's printed figures: the latency table, memory, and Warrant
against the baseline and its peers. Figures only; nothing is asserted."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import targets

if TYPE_CHECKING:
    from bench import Cell
    from proctree import Memory

CLIENT_NAMES = {"raw": "raw HTTP", "python-sdk": "python sdk", "ts-sdk": "ts sdk"}
PEERS = ("supergateway", "mcp-proxy-npm", "mcp-proxy-pypi", "fastmcp")
LABELS = {t.key: t.label for t in targets.TARGETS}
Results = dict[tuple[str, str, int], "Cell"]

LATENCY_COLUMNS = [
    ("client", "<11"),
    ("conc", ">4"),
    ("path", "<24"),
    ("calls", ">6"),
    ("p50", ">8"),
    ("p99", ">8"),
    ("p50×base", ">9"),
    ("p99×base", ">9"),
    ("+p50", ">8"),
    ("+p99", ">8"),
]
MEMORY_COLUMNS = [
    ("path", "<24"),
    ("procs", ">5"),
    ("servers", ">7"),
    ("tree RSS end", ">12"),
    ("tree RSS peak", ">13"),
    ("proxy RSS end", ">13"),
    ("proxy HWM", ">9"),
    ("servers RSS end", ">15"),
]


def row(columns: list[tuple[str, str]], values: list[object]) -> str:
    return " ".join(f"{value:{spec}}" for (_, spec), value in zip(columns, values, strict=False))


def header(columns: list[tuple[str, str]]) -> None:
    line = row(columns, [name for name, _ in columns])
    print(line)
    print("-" * len(line))


def print_all(args: argparse.Namespace, results: Results, memory: dict[str, Memory], failed: dict[str, str]) -> None:
    print()
    print_latency(args, results, failed)
    print_memory(memory, failed)
    print()
    print_warrant(args, results)
    print()
    print_connections(args, results)


def print_latency(args: argparse.Namespace, results: Results, failed: dict[str, str]) -> None:
    print("tools/call latency in µs (p50, p99 of the cell's calls); ×base and +base: against the direct")
    print("stdio call (the baseline) by the same client at the same concurrency")
    header(LATENCY_COLUMNS)
    for client in args.clients:
        for callers in args.concurrency:
            base = results.get(("direct", client, callers))
            for key in args.only:
                cell = results.get((key, client, callers))
                head = row(LATENCY_COLUMNS, [CLIENT_NAMES[client], callers, LABELS[key]])
                if key in failed:
                    print(f"{head} did not start: {failed[key][:80]}")
                elif cell is None:
                    continue
                elif not cell.ok:
                    print(f"{head} failed: {(cell.failure or 'no calls')[:160]}")
                else:
                    figures = [len(cell.latencies_us), f"{cell.pct(0.5):.0f}", f"{cell.pct(0.99):.0f}"]
                    print(f"{head} {row(LATENCY_COLUMNS[3:], [*figures, *against(cell, base)])}")
                    if cell.errors:
                        print(f"{'':>45} ({cell.errors} failed calls left out; first: {cell.first_error})")
            print()


def against(cell: Cell, base: Cell | None) -> list[str]:
    if base is None or not base.ok:
        return ["-"] * 4
    b50, b99 = base.pct(0.5), base.pct(0.99)
    c50, c99 = cell.pct(0.5), cell.pct(0.99)
    return [f"{c50 / b50:.2f}", f"{c99 / b99:.2f}", f"{c50 - b50:+.0f}", f"{c99 - b99:+.0f}"]


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def print_memory(memory: dict[str, Memory], failed: dict[str, str]) -> None:
    print("memory in MiB, from /proc, sampled every 0.5 s while the path served every cell above:")
    print("tree = the path's process and all its descendants; servers = the server-everything processes")
    print("among them (procs, servers: the most seen at once); proxy = the rest of the tree;")
    print("HWM = each proxy process's own peak (VmHWM), summed")
    header(MEMORY_COLUMNS)
    for key, m in memory.items():
        sizes = [m.tree_rss_end, m.tree_rss_peak, m.proxy_rss_end, m.proxy_hwm, m.server_rss_end]
        print(row(MEMORY_COLUMNS, [LABELS[key], m.procs_peak, m.servers_peak, *map(mib, sizes)]))
    for key in failed:
        print(f"{LABELS[key]:<24} did not start")


def print_warrant(args: argparse.Namespace, results: Results) -> None:
    print("warrant against the baseline and the peer proxies")
    print("(targets: below every peer; added p50 <= 300 µs at concurrency 1):")
    for client in args.clients:
        for callers in args.concurrency:
            print_warrant_http(client, callers, results)
            w = results.get(("warrant", client, callers))
            base = results.get(("direct", client, callers))
            if w is None or not w.ok:
                continue
            line = f"  {CLIENT_NAMES[client]:<10} x{callers}: warrant p50 {w.pct(0.5):.0f} µs"
            if base is not None and base.ok:
                line += f", added p50 {w.pct(0.5) - base.pct(0.5):+.0f} µs, p99 {w.pct(0.99) - base.pct(0.99):+.0f} µs"
            peers = [(results[(k, client, callers)].pct(0.5), k) for k in PEERS if ok(results, k, client, callers)]
            if peers:
                best, key = min(peers)
                line += f"; fastest peer {LABELS[key]} p50 {best:.0f} µs (warrant/peer {w.pct(0.5) / best:.2f})"
            print(line)


def print_warrant_http(client: str, callers: int, results: Results) -> None:
    """Warrant in front of the server's own HTTP transport, against calling it directly."""
    wh, own = results.get(("warrant-http", client, callers)), results.get(("own-http", client, callers))
    if wh is None or not wh.ok or own is None or not own.ok:
        return
    print(
        f"  {CLIENT_NAMES[client]:<10} x{callers}: warrant, HTTP upstream p50 {wh.pct(0.5):.0f} µs, "
        f"added over the server's own HTTP p50 {wh.pct(0.5) - own.pct(0.5):+.0f} µs, "
        f"p99 {wh.pct(0.99) - own.pct(0.99):+.0f} µs"
    )


def ok(results: Results, key: str, client: str, callers: int) -> bool:
    cell = results.get((key, client, callers))
    return cell is not None and cell.ok


def print_connections(args: argparse.Namespace, results: Results) -> None:
    if "raw" not in args.clients:
        return
    print("raw HTTP client (python http.client, one keep-alive connection per session):")
    print("TCP connections it opened (its sessions), and TCP_NODELAY on its sockets:")
    for key in args.only:
        cells = [(c, results[(key, "raw", c)]) for c in args.concurrency if (key, "raw", c) in results]
        if key == "direct" or not cells:
            continue
        parts = [f"x{c}: {cell.connections} ({c})" for c, cell in cells]
        nodelay = {n for _, cell in cells for n in cell.nodelay} - {None}
        state = "on" if nodelay == {True} else "off" if nodelay == {False} else "mixed" if nodelay else "?"
        print(f"  {LABELS[key]:<24} {', '.join(parts)}; TCP_NODELAY {state}")
