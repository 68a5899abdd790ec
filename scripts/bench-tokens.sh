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
