"""One caller of the proxy benchmark, in Python: times `tools/call` in a loop.

Two clients, chosen with --client:

  raw   a plain keep-alive HTTP/1.1 client (http.client, no SDK), as curl or
        requests would behave: it does the MCP handshake itself (initialize,
        notifications/initialized, the Mcp-Session-Id header), then loops
        tools/call on one connection, reading JSON or SSE answers; with --stdio
        it writes JSON lines to the server's stdin and reads its stdout
  sdk   the official MCP Python SDK (ClientSession over streamable_http_client,
        or over stdio_client with --stdio)

It talks to scripts/bench-peers (bench.py) on stdout and stdin, one JSON object
a line: after the handshake and the warm-up calls it prints {"ready": true}
and waits for one line on stdin; then it makes --calls timed calls and prints
{"latencies_us": [...], "errors": N, "first_error": ..., ...}. A failure
before that prints {"fatal": "..."}. Everything is bounded by --timeout-s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from typing import Any

PROTOCOL_VERSION = "2025-11-25"


class CallFailed(Exception):
    """A call got no answer, or an answer that is not the expected echo."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", choices=("raw", "sdk"), required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the Streamable HTTP endpoint")
    target.add_argument(
        "--stdio", metavar="ARGV_JSON", help="start this command (a JSON list) and speak MCP over its stdio"
    )
    parser.add_argument("--header", action="append", default=[], metavar="K=V", help="extra HTTP header (repeatable)")
    parser.add_argument("--tool", required=True)
    parser.add_argument("--message", default="hello from the benchmark")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--timeout-s", type=float, default=600.0, help="deadline for the whole run")
    return parser.parse_args(argv)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def wait_for_go() -> None:
    if not sys.stdin.readline():
        raise CallFailed("the benchmark closed stdin before saying go")


def check_echo(result: Any, message: str) -> None:
    if not isinstance(result, dict) or result.get("isError"):
        raise CallFailed(f"tool error: {json.dumps(result)[:300]}")
    content = result.get("content") or [{}]
    text = content[0].get("text") if isinstance(content[0], dict) else None
    if text != f"Echo: {message}":
        raise CallFailed(f"unexpected answer: {json.dumps(result)[:300]}")


def headers_of(args: argparse.Namespace) -> dict[str, str]:
    headers = {}
    for item in args.header:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--header wants K=V, got `{item}`")
        headers[key] = value
    return headers


# --- the raw client -----------------------------------------------------------


def messages_of(content_type: str, body: bytes) -> list[Any]:
    """The JSON-RPC messages of a POST's answer: one JSON body, or SSE events."""
    if content_type.startswith("application/json"):
        return [json.loads(body)]
    if not content_type.startswith("text/event-stream"):
        raise CallFailed(f"unexpected content type `{content_type}`")
    messages = []
    for event in body.decode().replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:"))
        if data.strip():  # priming events carry an id and empty data
            messages.append(json.loads(data))
    return messages


class RawHttp:
    """One MCP session on one keep-alive HTTP/1.1 connection."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.path = parts.path or "/"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
        self.next_id = 0
        self.connections = 0
        self.sock: Any = None
        self.nodelay: bool | None = None

    def post(self, message: dict[str, Any]) -> tuple[int, list[Any]]:
        self.conn.request("POST", self.path, body=json.dumps(message).encode(), headers=self.headers)
        if self.conn.sock is not self.sock:  # http.client (re)connected for this request
            self.sock = self.conn.sock
            self.connections += 1
            self.nodelay = bool(self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        response = self.conn.getresponse()
        body = response.read()
        if response.status == 202:
            return 202, []
        if response.status != 200:
            raise CallFailed(f"HTTP {response.status}: {body[:300]!r}")
        if "Mcp-Session-Id" not in self.headers and response.getheader("mcp-session-id"):
            self.headers["Mcp-Session-Id"] = response.getheader("mcp-session-id")
        return 200, messages_of(response.getheader("content-type", ""), body)

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        _, messages = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        for message in messages:
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise CallFailed(f"JSON-RPC error: {message['error']}")
                return message.get("result")
        raise CallFailed(f"no answer to `{method}` in {messages}")

    def handshake(self) -> None:
        self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "bench-raw", "version": "0"},
            },
        )
        self.headers["MCP-Protocol-Version"] = PROTOCOL_VERSION
        status, _ = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if status != 202:
            raise CallFailed(f"notifications/initialized answered {status}, not 202")

    def close(self) -> None:
        if "Mcp-Session-Id" in self.headers:
            try:  # end the session as a well-behaved client does
                self.conn.request("DELETE", self.path, headers=self.headers)
                self.conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass
        self.conn.close()


class RawStdio:
    """One MCP session over a server's stdin and stdout, newline-delimited JSON."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.connections = 1
        self.nodelay = None

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> Any:
        assert self.proc.stdout is not None
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise CallFailed("the server closed its stdout")
            message = json.loads(line)
            if message.get("id") == self.next_id and ("result" in message or "error" in message):
                if "error" in message:
                    raise CallFailed(f"JSON-RPC error: {message['error']}")
                return message["result"]

    def handshake(self) -> None:
        self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "bench-raw", "version": "0"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run_raw(args: argparse.Namespace) -> dict[str, Any]:
    if args.stdio:
        session: RawHttp | RawStdio = RawStdio(json.loads(args.stdio))
    else:
        session = RawHttp(args.url, headers_of(args), timeout=30.0)
    try:
        session.handshake()
        call = {"name": args.tool, "arguments": {"message": args.message}}
        for _ in range(args.warmup):
            check_echo(session.request("tools/call", call), args.message)
        emit({"ready": True})
        wait_for_go()
        latencies, errors, first_error = [], 0, None
        for _ in range(args.calls):
            started = time.perf_counter_ns()
            try:
                check_echo(session.request("tools/call", call), args.message)
            except (CallFailed, OSError, http.client.HTTPException, ValueError) as err:
                errors += 1
                first_error = first_error or f"{type(err).__name__}: {err}"
                continue
            latencies.append((time.perf_counter_ns() - started) / 1000)
        return {
            "latencies_us": latencies,
            "errors": errors,
            "first_error": first_error,
            "connections": session.connections,
            "tcp_nodelay": session.nodelay,
        }
    finally:
        session.close()


# --- the official SDK client --------------------------------------------------


async def run_sdk(args: argparse.Namespace) -> dict[str, Any]:
    # Imported here so the raw client, which must not depend on the SDK,
    # does not load it either.
    import anyio  # noqa: PLC0415
    from mcp import ClientSession, StdioServerParameters  # noqa: PLC0415
    from mcp.client.stdio import stdio_client  # noqa: PLC0415
    from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415
    from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: PLC0415

    report: dict[str, Any] = {}

    async def call(session: ClientSession) -> None:
        result = await session.call_tool(args.tool, {"message": args.message})
        check_echo(result.model_dump(mode="json", by_alias=True), args.message)

    async def drive(read: Any, write: Any) -> None:
        async with ClientSession(read, write) as session:
            await session.initialize()
            for _ in range(args.warmup):
                await call(session)
            emit({"ready": True})
            await anyio.to_thread.run_sync(wait_for_go)
            latencies, errors, first_error = [], 0, None
            for _ in range(args.calls):
                started = time.perf_counter_ns()
                try:
                    await call(session)
                except Exception as err:  # noqa: BLE001 - counted and reported, not raised
                    errors += 1
                    first_error = first_error or f"{type(err).__name__}: {err}"
                    continue
                latencies.append((time.perf_counter_ns() - started) / 1000)
            report.update(latencies_us=latencies, errors=errors, first_error=first_error)

    if args.stdio:
        argv = json.loads(args.stdio)
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ))
        with open(os.devnull, "w") as devnull:
            async with stdio_client(params, errlog=devnull) as (read, write):
                await drive(read, write)
    else:
        http_client = create_mcp_http_client(headers=headers_of(args))
        async with http_client, streamable_http_client(args.url, http_client=http_client) as (read, write, _):
            await drive(read, write)
    return report


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # A stuck peer must not hold the benchmark: exit hard at the deadline.
    timer = threading.Timer(
        args.timeout_s, lambda: (emit({"fatal": f"timed out after {args.timeout_s}s"}), os._exit(3))
    )
    timer.daemon = True
    timer.start()
    try:
        if args.client == "raw":
            report = run_raw(args)
        else:
            import anyio  # noqa: PLC0415 - see run_sdk

            report = anyio.run(run_sdk, args)
    except BaseException as err:  # noqa: BLE001 - any failure is reported to the benchmark
        if isinstance(err, KeyboardInterrupt):
            raise
        emit({"fatal": describe(err)})
        return 1
    emit(report)
    return 0


def describe(err: BaseException) -> str:
    """The innermost messages of a (possibly grouped) failure."""
    if isinstance(err, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in err.exceptions)
    return f"{type(err).__name__}: {err}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
