#!/usr/bin/env bash
# The returning-user QQ login on the light rig of ../shared/perf/ (see its README):
# floor, qqbind, floor, ROUNDS times (default 3), each run as ../shared/perf/run.sh does
# it (64 users, a fake QQ on nginx, SQLite and the in-process store). Prints each run's
# RESULT line, then qqbind's share of the mean of the floor runs around it, and at the end
# the median share over the rounds (on a shared machine one round can be far off).
#
#   bash benches/light_rig.sh            # needs nginx-light; builds what it runs
#   ROUNDS=1 DURATION=10 bash benches/light_rig.sh
#   QQBIND_BIN=PATH FLOOR_BIN=PATH bash benches/light_rig.sh   # other builds (pgo_build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rig=${RIG:-../shared/perf}
rig_target=${RIG_TARGET_DIR:-$HOME/.cache/qqbind-rig}
app_target=${CARGO_TARGET_DIR:-$HOME/.cache/qqbind/target}
ROUNDS=${ROUNDS:-3}
shares=()
command -v nginx >/dev/null || { echo "install nginx-light (apt-get install -y nginx-light)" >&2; exit 2; }
CARGO_TARGET_DIR=$rig_target cargo build -q --release --manifest-path "$rig/flowload/Cargo.toml"
floor_bin=${FLOOR_BIN:-$rig_target/release/floor}
app_bin=${QQBIND_BIN:-$app_target/release/qqbind}
[ -n "${FLOOR_BIN:-}" ] || CARGO_TARGET_DIR=$rig_target cargo build -q --release --manifest-path "$rig/floor/Cargo.toml"
[ -n "${QQBIND_BIN:-}" ] || CARGO_TARGET_DIR=$app_target cargo build -q --release
export FLOWLOAD=$rig_target/release/flowload
# Each run's RESULT line, with the whole flow's median latency added (p50_ms).
run() {
    CARGO_TARGET_DIR=$rig_target bash "$rig/run.sh" "$@" 2>/dev/null |
        awk '/whole flow/ {p50 = $3} /^RESULT/ {print $0 " p50_ms=" p50}'
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
for r in $(seq "$ROUNDS"); do
    before=$(run floor "$floor_bin")
    echo "$before"
    # Its 64 users share one loopback address: the per-client limit on starting a QQ
    # login (30 a minute) would refuse nearly all of them, so it is off here.
    app=$(RATE_LIMITS=off PREBIND_CMD="$rig/prebind-sqlite.py" run qqbind "$app_bin" serve)
    echo "$app"
    after=$(run floor "$floor_bin")
    echo "$after"
    a=$(field "$app" flows_per_s) floor_mean=$(awk -v f1="$(field "$before" flows_per_s)" -v f2="$(field "$after" flows_per_s)" 'BEGIN { print (f1 + f2) / 2 }')
    share=$(awk -v a="$a" -v f="$floor_mean" 'BEGIN { printf "%.2f", a / f }')
    shares+=("$share")
    awk -v a="$a" -v f="$floor_mean" -v share="$share" \
        -v r="$r" -v p50="$(field "$app" p50_ms)" -v p99="$(field "$app" p99_ms)" \
        -v cpu="$(field "$app" server_cpu_us_per_op)" -v c1="$(field "$before" server_cpu_us_per_op)" \
        -v c2="$(field "$after" server_cpu_us_per_op)" -v rss="$(field "$app" server_rss_kb)" \
        'BEGIN { printf "round %d: qqbind %.0f flows/s = %s of the floor (%.0f); p50 %s ms, p99 %s ms; %s us a flow (floor %s, %s); peak RSS %.1f MiB\n",
                 r, a, share, f, p50, p99, cpu, c1, c2, rss / 1024 }'
done
printf '%s\n' "${shares[@]}" | sort -n |
    awk '{v[NR] = $1} END {printf "median share of the floor over %d rounds: %.2f (%s to %s)\n", NR, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR]}'
