// One caller of the proxy benchmark with the official TypeScript SDK
// (@modelcontextprotocol/sdk 1.x) on Node: times `tools/call` in a loop.
//
// Same flags and line protocol as py_client.py (scripts/bench-peers drives
// both): after the handshake and the warm-up it prints {"ready": true}, waits
// for one line on stdin, makes --calls timed calls and prints
// {"latencies_us": [...], "errors": N, "first_error": ...}; a failure before
// that prints {"fatal": "..."}. --node-modules names the directory the SDK is
// installed in (target/bench/node/node_modules).

import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

const { values: args } = parseArgs({
  options: {
    "node-modules": { type: "string" },
    url: { type: "string" },
    stdio: { type: "string" },
    header: { type: "string", multiple: true, default: [] },
    tool: { type: "string" },
    message: { type: "string", default: "hello from the benchmark" },
    warmup: { type: "string", default: "100" },
    calls: { type: "string", default: "1000" },
    "timeout-s": { type: "string", default: "600" },
  },
});

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// A stuck peer must not hold the benchmark: exit hard at the deadline.
const timeoutS = Number(args["timeout-s"]);
setTimeout(() => {
  emit({ fatal: `timed out after ${timeoutS}s` });
  process.exit(3);
}, timeoutS * 1000).unref();

async function sdk(path) {
  const file = join(args["node-modules"], "@modelcontextprotocol/sdk/dist/esm", path);
  return import(pathToFileURL(file).href);
}

function headers() {
  const out = {};
  for (const item of args.header) {
    const at = item.indexOf("=");
    if (at < 1) throw new Error(`--header wants K=V, got \`${item}\``);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

async function transportFor() {
  if (args.stdio) {
    const { StdioClientTransport } = await sdk("client/stdio.js");
    const [command, ...rest] = JSON.parse(args.stdio);
    return new StdioClientTransport({ command, args: rest, env: process.env, stderr: "ignore" });
  }
  const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
  return new StreamableHTTPClientTransport(new URL(args.url), { requestInit: { headers: headers() } });
}

async function call(client) {
  const result = await client.callTool({ name: args.tool, arguments: { message: args.message } });
  const text = result?.content?.[0]?.text;
  if (result.isError || text !== `Echo: ${args.message}`) {
    throw new Error(`unexpected answer: ${JSON.stringify(result).slice(0, 300)}`);
  }
}

function waitForGo() {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk) => {
      seen += chunk;
      if (!seen.includes("\n")) return;
      process.stdin.off("data", onData).off("end", onEnd).pause();
      resolve();
    };
    const onEnd = () => reject(new Error("the benchmark closed stdin before saying go"));
    process.stdin.setEncoding("utf8").on("data", onData).on("end", onEnd);
  });
}

async function main() {
  const { Client } = await sdk("client/index.js");
  const transport = await transportFor();
  const client = new Client({ name: "bench-ts-sdk", version: "0" });
  await client.connect(transport);
  for (let i = 0; i < Number(args.warmup); i++) await call(client);
  emit({ ready: true });
  await waitForGo();
  const latencies = [];
  let errors = 0;
  let firstError = null;
  for (let i = 0; i < Number(args.calls); i++) {
    const started = process.hrtime.bigint();
    try {
      await call(client);
    } catch (err) {
      errors += 1;
      firstError ??= String(err);
      continue;
    }
    latencies.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  emit({ latencies_us: latencies, errors, first_error: firstError });
  // End the session as a well-behaved client does (DELETE), then close.
  if (!args.stdio) await transport.terminateSession().catch(() => {});
  await client.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    emit({ fatal: String(err?.stack ?? err) });
    process.exit(1);
  },
);
