#!/usr/bin/env bash
# Installs the Debian packages berth and its tests need, if any is missing,
# and starts the Docker daemon if none answers. Idempotent; run as root.
set -euo pipefail

packages=(docker.io docker-registry postgresql skopeo busybox-static psmisc curl ca-certificates chromium chromium-driver)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql package may start its own cluster on 5432; berth runs
# its own on another port and does not need it, so leave it alone.

if ! docker version >/dev/null 2>&1; then
  echo "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/berth-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/berth-dockerd.log" >&2; exit 1; }
fi
