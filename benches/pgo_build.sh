#!/usr/bin/env bash
# A profile-guided (PGO) release build, trained on the light rig of ../shared/perf/: the
# returning QQ login (10 s) and a logged-in page (5 s), 64 users each. Prints the path of
# the optimised binary. `floor` builds the rig's floor server the same way, so that the two
# can be compared like for like.
#
#   bash benches/pgo_build.sh              # qqbind, into $HOME/.cache/qqbind-pgo
#   bash benches/pgo_build.sh floor        # the floor, into $HOME/.cache/qqbind-rig-pgo
#   QQBIND_BIN=$(bash benches/pgo_build.sh | tail -1) bash benches/light_rig.sh
#
# Needs nginx-light and the llvm-profdata of rustc's own LLVM version (rustc 1.95 has
# LLVM 22: apt-get install -y llvm-22). Each build is a full release build, twice.
set -euo pipefail
cd "$(dirname "$0")/.."
rig=${RIG:-../shared/perf}
rig_target=${RIG_TARGET_DIR:-$HOME/.cache/qqbind-rig}
llvm=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
profdata=$(command -v "llvm-profdata-$llvm" || true)
[ -n "$profdata" ] || { echo "install llvm-profdata $llvm (apt-get install -y llvm-$llvm)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "install nginx-light (apt-get install -y nginx-light)" >&2; exit 2; }
# What to build, where, and how the rig starts it (qqbind with its openids bound first and
# the per-client limits off, as benches/light_rig.sh runs it).
case "${1:-}" in
"")
    name=qqbind target=${PGO_TARGET_DIR:-$HOME/.cache/qqbind-pgo} manifest=Cargo.toml
    start=(env RATE_LIMITS=off PREBIND_CMD="$rig/prebind-sqlite.py" bash "$rig/run.sh" pgo "$target/release/qqbind" serve) ;;
floor)
    name=floor target=${PGO_TARGET_DIR:-$HOME/.cache/qqbind-rig-pgo} manifest=$rig/floor/Cargo.toml
    start=(bash "$rig/run.sh" pgo "$target/release/floor") ;;
*) echo "usage: $0 [floor]" >&2; exit 2 ;;
esac
CARGO_TARGET_DIR=$rig_target cargo build -q --release --manifest-path "$rig/flowload/Cargo.toml"
export FLOWLOAD=$rig_target/release/flowload
data=$(mktemp -d /tmp/qqbind-pgo-data.XXXXXX)
trap 'rm -rf "$data"' EXIT
build() { RUSTFLAGS="$1" CARGO_TARGET_DIR=$target cargo build -q --release --manifest-path "$manifest"; }

build "-Cprofile-generate=$data"
DURATION=10 "${start[@]}" >/dev/null 2>&1
# The floor serves no page but the login.
[ "$name" = floor ] || DURATION=5 FLOWLOAD_ARGS="--page /info/ --login" "${start[@]}" >/dev/null 2>&1
"$profdata" merge -o "$data/merged.profdata" "$data"
build "-Cprofile-use=$data/merged.profdata -Cllvm-args=-pgo-warn-missing-function=false"
echo "$target/release/$name"
