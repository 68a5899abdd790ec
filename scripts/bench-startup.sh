#!/usr/bin/env bash
# Prints the foundation figures: cold start of `berth serve` to a 200 from
# /healthz on a fresh data dir and again on the existing one, idle RSS of
# berth itself (children excluded), and stop time. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p berth >/dev/null
bin=$PWD/target/release/berth
runs=${RUNS:-3}
work=$(mktemp -d /tmp/berth-bench-XXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

port() { python3 -c 'import socket,random
while True:
    p=random.randint(20000,60000)
    s=socket.socket()
    try:
        s.bind(("127.0.0.1",p)); s.close(); print(p); break
    except OSError: pass'; }

now() { date +%s.%N; }

start_and_time() { # data-dir listen reg pg -> sets PID, ELAPSED
  local t0; t0=$(now)
  "$bin" serve --data-dir "$1" --listen "127.0.0.1:$2" --registry-listen "127.0.0.1:$3" \
    --postgres-listen "127.0.0.1:$4" >"$1.log" 2>&1 &
  PID=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/healthz")" = 200 ]; do
    kill -0 "$PID" 2>/dev/null || { echo "berth died:" >&2; tail -5 "$1.log" >&2; exit 1; }
    sleep 0.01
  done
  ELAPSED=$(python3 -c "print(f'{($(now)-$t0)*1000:.0f}')")
}

stop_and_time() {
  local t0; t0=$(now)
  kill -TERM "$PID"; wait "$PID" || true
  STOP=$(python3 -c "print(f'{($(now)-$t0)*1000:.0f}')")
}

printf '%-4s %-18s %-18s %-14s %-12s\n' run "cold start (ms)" "warm start (ms)" "idle RSS (MB)" "stop (ms)"
for i in $(seq 1 "$runs"); do
  dir="$work/data$i"
  l=$(port); r=$(port); p=$(port)
  start_and_time "$dir" "$l" "$r" "$p"; cold=$ELAPSED
  stop_and_time
  start_and_time "$dir" "$l" "$r" "$p"; warm=$ELAPSED
  sleep 5 # idle
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status")
  stop_and_time
  printf '%-4s %-18s %-18s %-14s %-12s\n' "$i" "$cold" "$warm" "$rss" "$STOP"
done
echo "goal: idle RSS <= 40 MB"
