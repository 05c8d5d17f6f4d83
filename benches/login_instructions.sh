#!/usr/bin/env bash
# Instructions a returning QQ login costs a server, counted by valgrind's callgrind: the
# same for the same binary and inputs whatever else the machine is doing, so a change is
# judged by it where flows/s on two shared cores moves by a fifth between runs.
#
#   bash benches/login_instructions.sh                 # qqbind's release binary
#   bash benches/login_instructions.sh floor           # the light rig's floor
#   bash benches/login_instructions.sh PATH [ARGS...]  # another qqbind binary (an A/B)
#
# The light rig of ../shared/perf/ (see its README) at 8 users, 50 openids (so that each
# account's once-a-minute writes do not weigh), 10 s after a 3 s warm-up; the counters are
# zeroed when the warm-up ends, so start-up is not counted. Prints the flows of the
# measured run (as the load generator counted them) and the instructions a flow.
# Needs valgrind and nginx-light. SIM=1 also simulates the caches and the branch predictor
# (callgrind's --cache-sim --branch-sim) and prints their misses a flow: where a server's
# time goes beyond the instructions it runs, on a machine without hardware counters.
set -euo pipefail
cd "$(dirname "$0")/.."
rig=${RIG:-../shared/perf}
rig_target=${RIG_TARGET_DIR:-$HOME/.cache/qqbind-rig}
app_target=${CARGO_TARGET_DIR:-$HOME/.cache/qqbind/target}
command -v valgrind >/dev/null || { echo "install valgrind (apt-get install -y valgrind)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "install nginx-light (apt-get install -y nginx-light)" >&2; exit 2; }
CARGO_TARGET_DIR=$rig_target cargo build -q --release --manifest-path "$rig/flowload/Cargo.toml"
prebind=$rig/prebind-sqlite.py
case "${1:-}" in
"") CARGO_TARGET_DIR=$app_target cargo build -q --release; cmd=("$app_target/release/qqbind" serve) ;;
floor)
    CARGO_TARGET_DIR=$rig_target cargo build -q --release --manifest-path "$rig/floor/Cargo.toml"
    cmd=("$rig_target/release/floor") prebind='' ;;
*) cmd=("$@") ;;
esac
sim=()
[ -z "${SIM:-}" ] || sim=(--cache-sim=yes --branch-sim=yes)
out=$(mktemp -d /tmp/login-instructions.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$out"' EXIT
# Zero the counters once the warm-up is over: the load generator's summary ("flows: …")
# is in run.sh's warmup.txt then (its first line is written at the start).
(
    for _ in $(seq 1200); do
        w=$(ls /tmp/perf-cg.*/warmup.txt 2>/dev/null | head -1 || true)
        if [ -n "$w" ] && grep -q '^flows: ' "$w"; then callgrind_control -z >/dev/null 2>&1; break; fi
        sleep 0.1
    done
) &
RATE_LIMITS=off PREBIND_CMD=$prebind OPENIDS=50 USERS=8 DURATION=10 WARMUP=3 READY_TIMEOUT=180 \
    FLOWLOAD=$rig_target/release/flowload \
    bash "$rig/run.sh" cg valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$out/cg.%p" "${cmd[@]}" \
    >"$out/run.txt" 2>/dev/null
wait
file=$(ls -S "$out"/cg.* | head -1)
total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
flows=$(awk '/^flows: / {print $2; exit}' "$out/run.txt")
echo "${cmd[0]}: $flows flows, $total instructions, $((total / flows)) a flow"
if [ -n "${SIM:-}" ]; then
    # Ir instructions; I1mr/ILmr instruction fetches missing the first-level/last-level
    # cache; Dr/Dw data reads/writes and their misses (D1mr, DLmr, D1mw, DLmw); Bc/Bcm
    # conditional branches and mispredicted ones; Bi/Bim indirect branches and mispredicted.
    awk -v flows="$flows" '/^events:/ {n = split($0, ev, " ")}
        /^totals:/ {for (i = 2; i <= NF; i++) t[ev[i]] = $i}
        END {for (i = 2; i <= n; i++) printf "  %-5s %9.0f a flow\n", ev[i], t[ev[i]] / flows}' "$file"
fi
