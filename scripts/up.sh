#!/usr/bin/env bash
# Brings berth up on its embedded defaults: installs what is missing, builds
# the release binary, and runs `berth serve` in the foreground (Ctrl-C stops
# it and everything it started). Extra arguments go to `berth serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --locked -p berth
exec ./target/release/berth serve "$@"
