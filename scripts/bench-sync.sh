#!/usr/bin/env bash
# Catalog sync figures for issue 5: starts its own berth on a fresh data dir
# (loopback only), populates its managed registry with REPOS x TAGS small
# OCI images straight through the distribution API, then prints the full
# reconcile time and request count into an empty database, the steady-state
# request count, and event-to-visible p50/p99 at RATE pushes/s for SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p berth >/dev/null
bin=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench-sync-XXXX)
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
until [ -s "$work/data/run/registry.url" ]; do sleep 0.05; done
BERTH_LOG=warn "$bin" bench sync --data-dir "$work/data" --postgres-port "$p" \
  --repos "${REPOS:-1000}" --tags "${TAGS:-10}" --concurrency "${CONCURRENCY:-32}" \
  --rate "${RATE:-100}" --seconds "${DURATION:-10}"
