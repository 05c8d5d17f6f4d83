#!/usr/bin/env bash
# Fuzzes the untrusted-input parsers for a bounded time: each target runs SECONDS
# (default 60). Needs the nightly toolchain (cargo fuzz builds with sanitizers).
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
for target in qq_wire openid_token form_decoding; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  # Start from QQ's real answers (qq-connect.md) where there are some.
  [ -d "fuzz/seeds/$target" ] && cp -n "fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true
  echo "== $target: ${secs}s"
  cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 \
    2>&1 | grep -E '^(#[0-9]+ *(DONE|pulse)|Done|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written)' || true
  if ls "fuzz/artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "$target: CRASH, see fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "no crash"
