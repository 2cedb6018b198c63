#!/usr/bin/env python3
"""A real MCP client for Warrant's e2e tests: the official Python SDK over Streamable HTTP.

    client.py (--url URL | --stdio ARGV_JSON) [--token TOKEN] [--header K=V ...] [--protocol-version V]
              [--timeout-s SECONDS] [--verbose] SCRIPT_JSON

SCRIPT_JSON is a JSON list of steps, or `-` to read it from stdin. One session
is opened (initialize), the steps run in order, and ONE JSON object is printed
on stdout:

    {"ok": true, "server_info": {...}, "protocol_version": "...", "results": [...]}

Steps and their results:

    {"op": "list_tools"}
        -> {"op", "tools": [{"name", "description", "annotations", "inputSchema", ...}], "error"}
    {"op": "call", "tool": NAME, "arguments": {...}, "timeout_s": 30}
        -> {"op", "tool", "is_error", "text", "structured", "content", "error"}
    {"op": "ping"}
        -> {"op", "error"}
    {"op": "call_concurrently", "calls": [{"tool": ..., "arguments": ..., "timeout_s": ...}, ...]}
        -> {"op", "results": [one call result per call, in the order given]}
    {"op": "wait_notification", "method": "notifications/tools/list_changed", "timeout_s": 10}
        -> {"op", "method", "received": true|false}
           (true if the server sent that notification at any time in this session)

A JSON-RPC error on a step is kept in that step's "error" as {"code", "message"}
(code is null for errors raised inside the client, such as the SDK's check of
structured content against a tool's output schema) and the script goes on.
If the session itself fails (connection refused, HTTP 401, overall timeout),
it prints {"ok": false, "error": "...", "http_status": N or null, "results": [...]}
with the results gathered so far, and still exits 0: the caller asserts on it.
Exit status 2 means the command line or the script was malformed.

The bearer token and --header values are default headers of the httpx client
handed to the SDK transport, so they go on every request: POST, the GET
stream and the closing DELETE. --protocol-version makes initialize request that
version instead of the SDK's latest. Logs, and with --verbose every HTTP
exchange, go to stderr.

Note: the SDK's call_tool sends tools/list by itself the first time it sees a
tool that it has not listed, to learn the output schema it validates against.
"""

import argparse
import json
import logging
import os
import sys
from datetime import timedelta
from typing import Any

import anyio
import httpx
import mcp.types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import McpError

OPS = ("list_tools", "call", "ping", "call_concurrently", "wait_notification")


class ScriptError(ValueError):
    """The step script is malformed: a bug in the test, not in the server."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Drive an MCP server over Streamable HTTP with the official SDK.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the MCP endpoint, e.g. http://127.0.0.1:PORT/mcp")
    target.add_argument(
        "--stdio",
        metavar="ARGV_JSON",
        help="instead of HTTP, start this command (a JSON list) and speak MCP over its stdio; "
        "it inherits this process's environment",
    )
    parser.add_argument("--token", help="bearer token, sent as `Authorization: Bearer TOKEN` on every request")
    parser.add_argument("--header", action="append", default=[], metavar="K=V", help="extra header (repeatable)")
    parser.add_argument("--protocol-version", help="protocol version to request in initialize")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="overall deadline in seconds (default 60)")
    parser.add_argument("--verbose", action="store_true", help="log each HTTP exchange to stderr")
    parser.add_argument("script", metavar="SCRIPT_JSON", help="JSON list of steps, or - for stdin")
    return parser.parse_args(argv)


def build_headers(args: argparse.Namespace) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in args.header:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ScriptError(f"--header wants K=V, got `{item}`")
        headers[key] = value
    if args.token is not None:
        headers["Authorization"] = f"Bearer {args.token}"
    return headers


def load_script(text: str) -> list[dict[str, Any]]:
    try:
        steps = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScriptError(f"script is not JSON: {err}") from err
    if not isinstance(steps, list):
        raise ScriptError("script must be a JSON list of steps")
    for index, step in enumerate(steps):
        check_step(step, f"step {index}")
    return steps


def check_step(step: Any, where: str) -> None:
    if not isinstance(step, dict) or step.get("op") not in OPS:
        raise ScriptError(f"{where}: each step is an object with op in {list(OPS)}, got `{step}`")
    if step["op"] == "call":
        check_call(step, where)
    if step["op"] == "call_concurrently":
        calls = step.get("calls")
        if not isinstance(calls, list):
            raise ScriptError(f"{where}: call_concurrently needs a list `calls`")
        for index, call in enumerate(calls):
            if not isinstance(call, dict):
                raise ScriptError(f"{where}, call {index}: a call is an object")
            check_call(call, f"{where}, call {index}")


def check_call(call: dict[str, Any], where: str) -> None:
    if not isinstance(call.get("tool"), str):
        raise ScriptError(f"{where}: a call needs a string `tool`")
    if not isinstance(call.get("arguments", {}), dict):
        raise ScriptError(f"{where}: `arguments` must be an object")
    if not isinstance(call.get("timeout_s", 0), int | float):
        raise ScriptError(f"{where}: `timeout_s` must be a number")


def error_of(err: Exception) -> dict[str, Any]:
    if isinstance(err, McpError):
        return {"code": err.error.code, "message": err.error.message}
    return {"code": None, "message": f"{type(err).__name__}: {err}"}


async def list_tools(session: ClientSession) -> dict[str, Any]:
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    try:
        while True:
            params = mcp.types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            for tool in page.tools:
                entry = {"name": None, "description": None, "annotations": None, "inputSchema": None}
                entry.update(tool.model_dump(mode="json", by_alias=True, exclude_none=True))
                tools.append(entry)
            cursor = page.nextCursor
            if not cursor:
                break
    except McpError as err:
        return {"op": "list_tools", "tools": tools, "error": error_of(err)}
    return {"op": "list_tools", "tools": tools, "error": None}


async def call(session: ClientSession, step: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "op": "call",
        "tool": step["tool"],
        "is_error": None,
        "text": None,
        "structured": None,
        "content": None,
        "error": None,
    }
    timeout = step.get("timeout_s")
    try:
        reply = await session.call_tool(
            step["tool"],
            step.get("arguments", {}),
            read_timeout_seconds=timedelta(seconds=timeout) if timeout is not None else None,
        )
    except (McpError, RuntimeError) as err:
        result["error"] = error_of(err)
        return result
    result["is_error"] = bool(reply.isError)
    result["text"] = "\n".join(part.text for part in reply.content if isinstance(part, mcp.types.TextContent))
    result["structured"] = reply.structuredContent
    result["content"] = [part.model_dump(mode="json", by_alias=True, exclude_none=True) for part in reply.content]
    return result


async def call_concurrently(session: ClientSession, step: dict[str, Any]) -> dict[str, Any]:
    calls = step["calls"]
    results: list[dict[str, Any] | None] = [None] * len(calls)

    async def one(index: int, spec: dict[str, Any]) -> None:
        results[index] = await call(session, spec)

    async with anyio.create_task_group() as group:
        for index, spec in enumerate(calls):
            group.start_soon(one, index, spec)
    return {"op": "call_concurrently", "results": results}


async def ping(session: ClientSession) -> dict[str, Any]:
    try:
        await session.send_ping()
    except McpError as err:
        return {"op": "ping", "error": error_of(err)}
    return {"op": "ping", "error": None}


class Notifications:
    """Every notification method the server sent, and a way to wait for one."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.changed = anyio.Event()

    async def handle(self, message: Any) -> None:
        if isinstance(message, mcp.types.ServerNotification):
            self.seen.append(message.root.method)
            self.changed.set()
            self.changed = anyio.Event()

    async def wait(self, step: dict[str, Any]) -> dict[str, Any]:
        method = step.get("method")
        with anyio.move_on_after(step.get("timeout_s", 10)):
            while method not in self.seen:
                await self.changed.wait()
        return {"op": "wait_notification", "method": method, "received": method in self.seen}


async def run_step(session: ClientSession, step: dict[str, Any], notes: "Notifications") -> dict[str, Any]:
    if step["op"] == "wait_notification":
        return await notes.wait(step)
    if step["op"] == "list_tools":
        return await list_tools(session)
    if step["op"] == "call":
        return await call(session, step)
    if step["op"] == "ping":
        return await ping(session)
    return await call_concurrently(session, step)


async def run(args: argparse.Namespace, headers: dict[str, str], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the script; whatever goes wrong with the session becomes an ok=false report."""
    report: dict[str, Any] = {"ok": False, "results": []}
    first_http_error: list[int] = []

    async def watch_response(response: httpx.Response) -> None:
        if args.verbose:
            print(f"client.py: {response.request.method} {response.request.url} -> {response.status_code}", file=sys.stderr)
        if response.status_code >= 400 and not first_http_error:
            first_http_error.append(response.status_code)

    notes = Notifications()

    async def drive(read: Any, write: Any) -> None:
        async with ClientSession(read, write, message_handler=notes.handle) as session:
            init = await session.initialize()
            report["server_info"] = init.serverInfo.model_dump(mode="json", by_alias=True, exclude_none=True)
            report["protocol_version"] = str(init.protocolVersion)
            for step in steps:
                report["results"].append(await run_step(session, step, notes))

    try:
        with anyio.fail_after(args.timeout_s):
            if args.stdio:
                argv = json.loads(args.stdio)
                params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ))
                async with stdio_client(params) as (read, write):
                    await drive(read, write)
            else:
                http_client = create_mcp_http_client(headers=headers)
                http_client.event_hooks["response"] = [watch_response]
                async with http_client, streamable_http_client(args.url, http_client=http_client) as (read, write, _):
                    await drive(read, write)
        report["ok"] = True
    except TimeoutError:
        report["error"] = f"timed out after {args.timeout_s}s"
    except BaseException as err:  # noqa: BLE001 - any failure is reported, not raised
        if isinstance(err, KeyboardInterrupt | SystemExit):
            raise
        report["error"] = describe(err)
    if not report["ok"]:
        report["http_status"] = first_http_error[0] if first_http_error else None
    return report


def describe(err: BaseException) -> str:
    """The innermost, most specific messages of a (possibly grouped) failure."""
    if isinstance(err, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in err.exceptions)
    if isinstance(err, McpError):
        return f"McpError {err.error.code}: {err.error.message}"
    return f"{type(err).__name__}: {err}"


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = parse_args(argv)
    try:
        headers = build_headers(args)
        steps = load_script(sys.stdin.read() if args.script == "-" else args.script)
    except ScriptError as err:
        print(f"client.py: {err}", file=sys.stderr)
        return 2
    if args.protocol_version:
        # ClientSession.initialize asks for mcp.types.LATEST_PROTOCOL_VERSION; the
        # SDK has no parameter for it, so the module constant is what we set.
        mcp.types.LATEST_PROTOCOL_VERSION = args.protocol_version
    report = anyio.run(run, args, headers, steps)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
