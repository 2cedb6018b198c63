#!/usr/bin/env node
// An MCP agent for Warrant's e2e tests: the official TypeScript SDK client
// (@modelcontextprotocol/client, v2) over Streamable HTTP.
//
//     node client.mjs --url URL [--token TOKEN] [--mode auto|legacy] SCRIPT_JSON
//
// Runs with the Node 22 of target/e2e/node, where scripts/setup-e2e installs
// the pinned SDK. `--mode` is the SDK's `versionNegotiation.mode`: `auto`
// sends `server/discover` and speaks 2026-07-28 with a server that answers
// it; `legacy` (the SDK's default) runs the 2025-11-25 `initialize`
// handshake. The steps and the one JSON object printed on stdout are those of
// client_v2.py: list_tools, call, listen, wait_tools_changed.
import { createRequire } from 'node:module';
import path from 'node:path';

const OPS = ['list_tools', 'call', 'listen', 'wait_tools_changed'];

function parseArgs(argv) {
    const args = { mode: 'legacy', timeoutS: 60 };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        if (flag === '--url') args.url = argv[++i];
        else if (flag === '--token') args.token = argv[++i];
        else if (flag === '--mode') args.mode = argv[++i];
        else if (flag === '--timeout-s') args.timeoutS = Number(argv[++i]);
        else if (args.script === undefined) args.script = flag;
        else return null;
    }
    if (!args.url || args.script === undefined) return null;
    try {
        args.steps = JSON.parse(args.script);
    } catch {
        return null;
    }
    const wellFormed = Array.isArray(args.steps) && args.steps.every(s => s && OPS.includes(s.op));
    return wellFormed ? args : null;
}

function errorOf(err) {
    const code = typeof err?.code === 'number' ? err.code : null;
    return { code, message: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    if (args === null) {
        process.stderr.write(`client.mjs: usage: --url URL [--token T] [--mode auto|legacy] SCRIPT_JSON with op in ${OPS}\n`);
        return 2;
    }
    // The SDK lives in target/e2e/node, not beside this file.
    const base = process.env.WARRANT_E2E_NODE_MODULES ?? new URL('../../target/e2e/node/node_modules', import.meta.url).pathname;
    const require = createRequire(path.join(base, 'noop.js'));
    const sdk = await import(require.resolve('@modelcontextprotocol/client'));

    const report = { ok: false, results: [] };
    let changed = false;
    let wake = () => {};
    const client = new sdk.Client({ name: 'warrant-e2e', version: '0' }, { versionNegotiation: { mode: args.mode } });
    client.setNotificationHandler('notifications/tools/list_changed', async () => {
        changed = true;
        wake();
    });
    const deadline = setTimeout(() => {
        report.error = `timed out after ${args.timeoutS}s`;
        process.stdout.write(`${JSON.stringify(report)}\n`);
        process.exit(0);
    }, args.timeoutS * 1000);
    try {
        const token = args.token;
        const options = token === undefined ? {} : { authProvider: { token: async () => token } };
        await client.connect(new sdk.StreamableHTTPClientTransport(new URL(args.url), options));
        report.protocol_version = client.getNegotiatedProtocolVersion?.() ?? null;
        report.server_info = client.getServerVersion() ?? null;
        for (const step of args.steps) report.results.push(await runStep(client, step));
        report.ok = true;
    } catch (err) {
        report.error = errorOf(err).message;
    }

    async function runStep(client, step) {
        if (step.op === 'list_tools') {
            try {
                const { tools } = await client.listTools();
                return { op: 'list_tools', tools, error: null };
            } catch (err) {
                return { op: 'list_tools', tools: [], error: errorOf(err) };
            }
        }
        if (step.op === 'call') {
            const result = { op: 'call', tool: step.tool, is_error: null, text: null, structured: null, content: null, meta: null, error: null };
            try {
                const reply = await client.callTool({ name: step.tool, arguments: step.arguments ?? {} });
                result.is_error = Boolean(reply.isError);
                result.text = (reply.content ?? []).filter(c => c.type === 'text').map(c => c.text).join('\n');
                result.structured = reply.structuredContent ?? null;
                result.content = reply.content ?? null;
                result.meta = reply._meta ?? null;
            } catch (err) {
                result.error = errorOf(err);
            }
            return result;
        }
        if (step.op === 'listen') {
            try {
                const subscription = await client.listen({ toolsListChanged: true });
                return { op: 'listen', honored: subscription.honoredFilter, error: null };
            } catch (err) {
                return { op: 'listen', honored: null, error: errorOf(err) };
            }
        }
        const waited = new Promise(resolve => {
            wake = resolve;
            setTimeout(resolve, (step.timeout_s ?? 20) * 1000);
        });
        if (!changed) await waited;
        return { op: step.op, received: changed };
    }

    clearTimeout(deadline);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    await client.close().catch(() => {});
    return 0;
}

process.exit(await main());
