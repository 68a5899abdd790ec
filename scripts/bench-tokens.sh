#!/usr/bin/env bash
# Token endpoint figures for issue 4: tokens/s and p50/p99 at 64 concurrent
# clients for the refresh-token, application-token and password paths, and
# a sign-only loop. Starts its own berth on a fresh data dir; loopback only;
# every phase is bounded in requests and time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p berth >/dev/null
bin=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench-tokens-XXXX)
chmod 755 "$work"
pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket,random
while True:
    p=random.randint(20000,60000)
    s=socket.socket()
    try:
        s.bind(("127.0.0.1",p)); s.close(); print(p); break
    except OSError: pass'; }

l=$(port); r=$(port); p=$(port)
BERTH_LOG=warn "$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$l" \
  --registry-listen "127.0.0.1:$r" --postgres-listen "127.0.0.1:$p" >"$work/berth.log" 2>&1 &
pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$l/healthz")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { echo "berth died:" >&2; tail -5 "$work/berth.log" >&2; exit 1; }
  sleep 0.05
done
password=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$password" | "$bin" user bootstrap --url "http://127.0.0.1:$l" --data-dir "$work/data" \
  --username bench --email bench@example.org --password-stdin >/dev/null
BERTH_BENCH_PASSWORD=$password "$bin" bench tokens --url "http://127.0.0.1:$l" --user bench \
  --concurrency "${CONCURRENCY:-64}" --requests "${REQUESTS:-20000}" --password-requests "${PASSWORD_REQUESTS:-512}"

# The same two fast paths driven by wrk (C, one thread), when installed: the
# Rust client above shares the two cores with the server and costs about as
# much CPU per request as berth itself, so wrk shows the server's capacity.
if command -v wrk >/dev/null; then
  base="http://127.0.0.1:$l"
  cli_auth=$(cat "$work/data/secrets/cli-auth")
  refresh=$(curl -s -u "bench:$password" "$base/v2/token?service=berth-registry&offline_token=true&client_id=wrk" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
  id=$(curl -s -H "Portus-Auth: $cli_auth" "$base/api/v1/users?all=true" |
    python3 -c 'import json,sys; print([u["id"] for u in json.load(sys.stdin) if u["username"]=="bench"][0])')
  app=$(curl -s -H "Portus-Auth: $cli_auth" -H 'content-type: application/json' -d '{"application":"wrk"}' \
    "$base/api/v1/users/$id/application_tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["plain_token"])')
  cat >"$work/refresh.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=refresh_token&refresh_token=$refresh&client_id=wrk&service=berth-registry&scope=repository%3Abench%2Fbench%3Apull%2Cpush"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
  report() { awk -v name="$1" '/ 50%/ {p50=$2} / 99%/ {p99=$2} /Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF}
    END {printf "%-26s %12.0f tokens/s  p50 %s  p99 %s  non-2xx %s\n", name, rps, p50, p99, bad+0}'; }
  echo "wrk, 1 thread, ${CONCURRENCY:-64} connections, 10 s each:"
  wrk -t1 -c"${CONCURRENCY:-64}" -d10s --latency -s "$work/refresh.lua" "$base/v2/token" | report "refresh token (POST)"
  wrk -t1 -c"${CONCURRENCY:-64}" -d10s --latency -H "Authorization: Basic $(printf 'bench:%s' "$app" | base64 -w0)" \
    "$base/v2/token?service=berth-registry&scope=repository%3Abench%2Fbench%3Apull%2Cpush" | report "application token (GET)"
fi
