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
  status=0
  cargo nextest run --workspace --locked --no-fail-fast || status=$?
  # Tests that restart the shared Docker daemon run alone, afterwards.
  cargo nextest run -p berth --test e2e --locked --no-fail-fast --run-ignored only || status=$?
  exit "$status"
else
  status=0
  cargo test --workspace --locked --no-fail-fast || status=$?
  cargo test -p berth --test e2e --locked -- --ignored || status=$?
  exit "$status"
fi
