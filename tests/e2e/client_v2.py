#!/usr/bin/env python3
"""An MCP agent for Warrant's e2e tests: the official Python SDK 2.x `Client` over Streamable HTTP.

    client_v2.py --url URL [--token TOKEN] [--mode auto|legacy|2026-07-28] [--timeout-s SECONDS] SCRIPT_JSON

Runs with target/e2e/venv2 (tests/e2e/requirements-v2.txt). `--mode` is the
SDK's own: `auto` (the default) sends `server/discover` and speaks 2026-07-28
with a server that answers it, `legacy` runs the 2025-11-25 `initialize`
handshake. One connection, the steps in order, ONE JSON object on stdout:

    {"ok": true, "protocol_version": "...", "server_info": {...} | null, "results": [...]}

Steps and their results:

    {"op": "list_tools"}
        -> {"op", "tools": [{"name", "description", "inputSchema", "outputSchema", ...}], "error"}
    {"op": "call", "tool": NAME, "arguments": {...}}
        -> {"op", "tool", "is_error", "text", "structured", "content", "meta", "error"}
    {"op": "listen"}
        -> {"op", "honored": {...}, "error"}
           opens a `subscriptions/listen` stream for tool-list changes (2026-07-28)
           that stays open for the rest of the script
    {"op": "wait_tools_changed", "timeout_s": 20}
        -> {"op", "received": true|false}
           true once the server said the tool list changed: on the listen stream
           (2026-07-28) or as a session notification (legacy)

An error on a step (a JSON-RPC error, or the SDK refusing a result it cannot
validate) is kept in that step's "error" as {"code", "message"} (code null for
errors raised inside the client) and the script goes on. A failed connection
prints {"ok": false, "error": "...", "results": [...]} and still exits 0.
Exit status 2 means a malformed command line or script.
"""

import argparse
import json
import sys
from typing import Any

import anyio
import httpx2
import mcp_types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

OPS = ("list_tools", "call", "listen", "wait_tools_changed")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Drive an MCP server with the official Python SDK 2.x client.")
    parser.add_argument("--url", required=True, help="the MCP endpoint, e.g. http://127.0.0.1:PORT/mcp")
    parser.add_argument("--token", help="bearer token, sent as `Authorization: Bearer TOKEN` on every request")
    parser.add_argument("--mode", default="auto", help="the SDK's negotiation mode: auto, legacy or 2026-07-28")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="overall deadline in seconds (default 60)")
    parser.add_argument("script", metavar="SCRIPT_JSON", help="JSON list of steps")
    return parser.parse_args(argv)


def load_script(text: str) -> list[dict[str, Any]] | None:
    try:
        steps = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(steps, list) or not all(isinstance(s, dict) and s.get("op") in OPS for s in steps):
        return None
    return steps


def error_of(err: Exception) -> dict[str, Any]:
    if isinstance(err, MCPError):
        return {"code": err.code, "message": err.message}
    return {"code": None, "message": f"{type(err).__name__}: {err}"}


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class Changes:
    """Whether the server said the tool list changed, by either era's route."""

    def __init__(self) -> None:
        self.seen = anyio.Event()

    async def on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self.seen.set()

    async def follow(self, client: Client, ready: Any) -> None:
        try:
            async with client.listen(tools_list_changed=True) as sub:
                ready.set(({"op": "listen", "honored": dump(sub.honored), "error": None}))
                async for event in sub:
                    if isinstance(event, ToolsListChanged):
                        self.seen.set()
        except (MCPError, ValueError, RuntimeError) as err:
            ready.set({"op": "listen", "honored": None, "error": error_of(err)})


class Ready:
    """A one-shot slot the listening task fills once the stream is acknowledged (or refused)."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.value: dict[str, Any] | None = None

    def set(self, value: dict[str, Any]) -> None:
        if self.value is None:
            self.value = value
            self.event.set()


async def call(client: Client, step: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"op": "call", "tool": step["tool"], "is_error": None, "text": None,
                              "structured": None, "content": None, "meta": None, "error": None}
    try:
        reply = await client.call_tool(step["tool"], step.get("arguments", {}))
    except (MCPError, RuntimeError, ValidationError) as err:
        result["error"] = error_of(err)
        return result
    result["is_error"] = bool(reply.is_error)
    result["text"] = "\n".join(p.text for p in reply.content if isinstance(p, mcp_types.TextContent))
    result["structured"] = reply.structured_content
    result["content"] = [dump(p) for p in reply.content]
    result["meta"] = reply.meta
    return result


async def list_tools(client: Client) -> dict[str, Any]:
    try:
        listing = await client.list_tools()
    except (MCPError, ValidationError) as err:
        return {"op": "list_tools", "tools": [], "error": error_of(err)}
    return {"op": "list_tools", "tools": [dump(t) for t in listing.tools], "error": None}


async def run(args: argparse.Namespace, steps: list[dict[str, Any]]) -> dict[str, Any]:
    report: dict[str, Any] = {"ok": False, "results": []}
    changes = Changes()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        with anyio.fail_after(args.timeout_s):
            async with httpx2.AsyncClient(headers=headers) as http:
                transport = streamable_http_client(args.url, http_client=http)
                client = Client(transport, mode=args.mode, message_handler=changes.on_message)
                async with client, anyio.create_task_group() as group:
                    report["protocol_version"] = client.protocol_version
                    info = client.server_info
                    report["server_info"] = dump(info) if info is not None else None
                    for step in steps:
                        if step["op"] == "list_tools":
                            report["results"].append(await list_tools(client))
                        elif step["op"] == "call":
                            report["results"].append(await call(client, step))
                        elif step["op"] == "listen":
                            ready = Ready()
                            group.start_soon(changes.follow, client, ready)
                            await ready.event.wait()
                            report["results"].append(ready.value)
                        else:
                            with anyio.move_on_after(step.get("timeout_s", 20)):
                                await changes.seen.wait()
                            report["results"].append({"op": step["op"], "received": changes.seen.is_set()})
                    group.cancel_scope.cancel()
        report["ok"] = True
    except TimeoutError:
        report["error"] = f"timed out after {args.timeout_s}s"
    except Exception as err:  # noqa: BLE001 - any failure is reported, not raised
        report["error"] = describe(err)
    return report


def describe(err: BaseException) -> str:
    if isinstance(err, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in err.exceptions)
    return f"{type(err).__name__}: {err}"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    steps = load_script(args.script)
    if steps is None:
        print(f"client_v2.py: the script must be a JSON list of steps with op in {list(OPS)}", file=sys.stderr)
        return 2
    print(json.dumps(anyio.run(run, args, steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
