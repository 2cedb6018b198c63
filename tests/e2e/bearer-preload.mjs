// Preloaded into the conformance suite's Node process by conformance.sh
// (node --import) when a token is given: the suite has no option to send an
// Authorization header, so this installs a global undici dispatcher that adds
// `Authorization: Bearer $WARRANT_CONFORMANCE_TOKEN` to requests whose origin is
// that of $WARRANT_CONFORMANCE_URL, and to no other. Both the suite's fetch()
// calls and its direct undici.request() calls (the DNS-rebinding scenario) go
// through the global dispatcher. Nothing is proxied: the server under test
// still authenticates every request itself, and conformance.sh first checks
// that a request without the token is refused with 401.
import { createRequire } from "node:module";
import { join } from "node:path";

const token = process.env.WARRANT_CONFORMANCE_TOKEN;
const target = new URL(process.env.WARRANT_CONFORMANCE_URL).origin;
const conformanceDir = process.env.WARRANT_CONFORMANCE_DIR;
// Resolve the undici the suite itself uses, so both share one global dispatcher.
const require = createRequire(join(conformanceDir, "package.json"));
const { Agent, setGlobalDispatcher } = require("undici");

function withBearer(headers) {
  const value = `Bearer ${token}`;
  if (headers == null) return { authorization: value };
  if (Array.isArray(headers)) return [...headers, "authorization", value];
  if (typeof headers[Symbol.iterator] === "function") return [...headers, ["authorization", value]];
  return { ...headers, authorization: value };
}

class BearerAgent extends Agent {
  dispatch(options, handler) {
    const origin = new URL(String(options.origin)).origin;
    if (origin === target) {
      options = { ...options, headers: withBearer(options.headers) };
    }
    return super.dispatch(options, handler);
  }
}

setGlobalDispatcher(new BearerAgent());
