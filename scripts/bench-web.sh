#!/usr/bin/env bash
# Web UI figures for issue 8: server time per page (p50/p99 over REQUESTS
# sequential requests on one keep-alive connection) for a namespace of 1,000
# repositories and a repository of 5,000 tags, and the bytes of a first
# dashboard load with its assets. Starts its own berth on a fresh data dir;
# loopback only; bounded in requests. BIN=path/to/berth skips the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p berth >/dev/null
  BIN=$PWD/target/release/berth
fi
work=$(mktemp -d /tmp/berth-bench-web-XXXX)
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
BERTH_LOG=warn "$BIN" serve --data-dir "$work/data" --listen "127.0.0.1:$l" \
  --registry-listen "127.0.0.1:$r" --postgres-listen "127.0.0.1:$p" >"$work/berth.log" 2>&1 &
pid=$!
base="http://localhost:$l"
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { echo "berth died:" >&2; tail -5 "$work/berth.log" >&2; exit 1; }
  sleep 0.05
done
password=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$password" | "$BIN" user bootstrap --url "http://127.0.0.1:$l" --data-dir "$work/data" \
  --username bench --email bench@example.org --password-stdin >/dev/null

sql() { psql -qAt -h "$work/data/run/postgres" -p "$p" -U postgres berth -c "$1"; }
sql "INSERT INTO repositories (namespace_id, name)
     SELECT n.id, 'r' || lpad(g::text, 4, '0') FROM namespaces n, generate_series(0, 999) g WHERE n.name = 'bench'"
# 5,000 tags on 2,500 images (two tags per digest), two platforms each.
sql "INSERT INTO tags (repository_id, name, digest, size, platforms, pushed_at, author_id)
     SELECT r.id, 'v' || g, 'sha256:' || md5((g / 2)::text) || md5((g / 2)::text), 3000000 + g,
            '{linux/amd64,linux/arm64}', now() - g * interval '1 minute', u.id
     FROM repositories r JOIN namespaces n ON n.id = r.namespace_id, users u, generate_series(0, 4999) g
     WHERE n.name = 'bench' AND r.name = 'r0000' AND u.username = 'bench'"
ns=$(sql "SELECT id FROM namespaces WHERE name = 'bench'")

jar=$work/cookies
csrf=$(curl -s -c "$jar" -b "$jar" "$base/sign-in" | sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "_csrf=$csrf" --data-urlencode "username=bench" \
  --data-urlencode "password=$password" "$base/sign-in"

n=${REQUESTS:-300}
measure() {
  local name=$1 url=$2
  for _ in $(seq "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$work/urls"
  curl -s -b "$jar" -K "$work/urls" -w '%{http_code} %{time_starttransfer}\n' | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
bad = sum(1 for r in rows if r[0] != "200")
t = sorted(float(r[1]) * 1000 for r in rows)
pick = lambda q: t[min(len(t) - 1, int(q * len(t)))]
print(f"%-44s p50 %6.2f ms  p99 %6.2f ms  (%d requests, %d not 200)" % (sys.argv[1], pick(0.50), pick(0.99), len(t), bad))
' "$name"
}
echo "server time to first byte, ${n} sequential requests each, one keep-alive connection:"
measure "namespace of 1,000 repositories, page 1" "$base/namespaces/$ns"
measure "namespace of 1,000 repositories, page 34" "$base/namespaces/$ns?page=34"
measure "repository of 5,000 tags, page 1" "$base/r/bench/r0000"
measure "repository of 5,000 tags, page 84" "$base/r/bench/r0000?page=84"
measure "dashboard" "$base/"
measure "explore (anonymous view)" "$base/explore"
measure "search for r09" "$base/search?q=r09"

bytes() { curl -s -b "$jar" -H 'accept-encoding: identity' -o /dev/null -w '%{size_header} %{size_download}\n' "$1" | awk '{print $1 + $2}'; }
page=$(bytes "$base/"); css=$(bytes "$base/assets/style.css"); js=$(bytes "$base/assets/app.js")
echo "first dashboard load: page $page B + style.css $css B + app.js $js B = $((page + css + js)) B (headers included, uncompressed)"
