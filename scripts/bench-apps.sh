#!/usr/bin/env bash
# Prints the apps figures of issue 3, in one run on this machine:
#  1. install-to-running of an app with postgres + two data dirs through
#     berth, against the same by hand (mkdir twice, CREATE ROLE + createdb on
#     the same cluster, `docker run` of the same image on the same network),
#     as a ratio (goal <= 1.3);
#  2. restart-to-converged with 20 apps installed: SIGTERM, start, until
#     /healthz is 200 and every app is listed as running again.
# Needs Docker and no internet: the test image is built FROM scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p berth >/dev/null
bin=$PWD/target/release/berth
runs=${RUNS:-3}
apps=${APPS:-20}
image=berth-test/busybox:1
work=$(mktemp -d /tmp/berth-bench-apps-XXXX)
chmod 755 "$work"
PID=
cleanup() {
  if [ -f "$work/data/instance-id" ]; then
    id=$(cat "$work/data/instance-id")
    docker ps -aq --filter "label=berth.instance=$id" | xargs -r docker rm -f >/dev/null
    docker rm -f bench-manual >/dev/null 2>&1 || true
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" || true
    docker network ls -q --filter "label=berth.instance=$id" | xargs -r docker network rm >/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! docker image inspect "$image" >/dev/null 2>&1; then
  ctx=$(mktemp -d); cp /bin/busybox "$ctx/"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN ["/bin/mkdir", "-p", "/www", "/tmp"]\nCMD ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]\n' >"$ctx/Dockerfile"
  docker build -q -t "$image" "$ctx" >/dev/null; rm -rf "$ctx"
fi

port() { python3 -c 'import socket,random
while True:
    p=random.randint(20000,60000)
    s=socket.socket()
    try:
        s.bind(("127.0.0.1",p)); s.close(); print(p); break
    except OSError: pass'; }
now() { date +%s.%N; }
ms() { python3 -c "print(f'{($(now)-$1)*1000:.0f}')"; }

data=$work/data
l=$(port); r=$(port); p=$(port)
api=http://127.0.0.1:$l
start() {
  "$bin" serve --data-dir "$data" --listen "127.0.0.1:$l" --registry-listen "127.0.0.1:$r" \
    --postgres-listen "127.0.0.1:$p" >>"$work/log" 2>&1 &
  PID=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$api/healthz")" = 200 ]; do
    kill -0 "$PID" 2>/dev/null || { echo "berth died:" >&2; tail -5 "$work/log" >&2; exit 1; }
    sleep 0.01
  done
}
start
token=$(cat "$data/owner.token")
net=berth-$(head -c 12 "$data/instance-id")
gw=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$net")
psql_super() { psql "host=$data/run/postgres port=$p user=postgres dbname=postgres" -XAtqc "$1" >/dev/null; }
running() { curl -s -H "Authorization: Bearer $token" "$api/protected/apps" |
  python3 -c 'import json,sys; print(sum(a["status"]=="running" for a in json.load(sys.stdin)))'; }

printf '%-4s %-20s %-20s %-8s\n' run "berth install (ms)" "by hand (ms)" ratio
for i in $(seq 1 "$runs"); do
  name=bench-$i
  body="{\"v\":\"4.0\",\"name\":\"$name\",\"image\":\"$image\",\"services\":[\"postgres\"],\"data_dirs\":[\"/data\",{\"path\":\"/config\",\"uid\":1000,\"gid\":1000}],\"env_vars\":{\"DB\":\"{{ postgres.connection_string }}\"}}"
  t0=$(now)
  code=$(curl -s -o "$work/out" -w '%{http_code}' -H "Authorization: Bearer $token" -d "$body" "$api/protected/apps")
  [ "$code" = 201 ] || { echo "install failed: $(cat "$work/out")" >&2; exit 1; }
  until [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; do sleep 0.005; done
  berth_ms=$(ms "$t0")

  t0=$(now)
  mkdir -p "$work/manual$i/data" "$work/manual$i/config"; chown 1000:1000 "$work/manual$i/config"
  pw=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  psql_super "CREATE ROLE manual_$i LOGIN PASSWORD '$pw'"
  createdb -h "$data/run/postgres" -p "$p" -U postgres -O "manual_$i" "manual_$i"
  docker run -d --name bench-manual --network "$net" --add-host "postgres:$gw" \
    -v "$work/manual$i/data:/data" -v "$work/manual$i/config:/config" \
    -e "DB=postgres://manual_$i:$pw@postgres:$p/manual_$i" "$image" >/dev/null
  until [ "$(docker inspect -f '{{.State.Running}}' bench-manual)" = true ]; do sleep 0.005; done
  hand_ms=$(ms "$t0")
  docker rm -f bench-manual >/dev/null
  printf '%-4s %-20s %-20s %-8s\n' "$i" "$berth_ms" "$hand_ms" "$(python3 -c "print(f'{$berth_ms/$hand_ms:.2f}')")"
done
echo "goal: ratio <= 1.3"

for i in $(seq 1 "$apps"); do
  curl -s -o /dev/null -H "Authorization: Bearer $token" \
    -d "{\"v\":\"4.0\",\"name\":\"many-$i\",\"image\":\"$image\",\"data_dirs\":[\"/data\"]}" "$api/protected/apps"
done
total=$(( apps + runs ))
until [ "$(running)" = "$total" ]; do sleep 0.1; done
kill -TERM "$PID"; wait "$PID" || true
t0=$(now)
start
until [ "$(running)" = "$total" ]; do sleep 0.01; done
echo "restart-to-converged with $total apps: $(ms "$t0") ms ($(sed 's/\x1b\[[0-9;]*m//g' "$work/log" | grep -o 'converge_ms=[0-9]*' | tail -1))"
