#!/usr/bin/env bash
# Runs the whole test suite against the real components: installs what is
# missing, starts dockerd, checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests; run them first so that the suite's
  # summary is the last thing printed.
  cargo test --workspace --locked --doc
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
