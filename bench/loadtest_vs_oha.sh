#!/usr/bin/env bash
# Closed-loop maximum throughput of `mlctl loadtest` vs oha and wrk against the same static
# nginx on 127.0.0.1 (one location returning a 2-byte 200). Each tool runs ROUNDS times,
# interleaved; the medians are compared. Targets: mlctl >= 1.0x oha (issue 5), >= 1.0x wrk
# (issue 18).
#
#   bench/loadtest_vs_oha.sh [CONNECTIONS=50] [SECONDS=10] [ROUNDS=3]
#
# Installs what is missing: wrk and nginx (apt). oha runs when it is installed, or with
# WITH_OHA=1 (then `cargo install oha --locked`, several minutes on 2 cores).
source "$(dirname "$0")/lib.sh"
CONNS=${1:-50}
SECS=${2:-10}
ROUNDS=${3:-3}

command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
OHA=$(command -v oha || echo "$HOME/.cargo/bin/oha")
if [ ! -x "$OHA" ] && [ "${WITH_OHA:-0}" = 1 ]; then
    echo "installing oha (cargo install oha --locked)" >&2
    cargo install oha --locked -q
fi
[ -x "$OHA" ] || { echo "oha is not installed: comparing with wrk only (WITH_OHA=1 installs it)" >&2; OHA=; }
build_mlctl

start_static_nginx
URL=$NGINX_URL

# Each runner prints "REQ_PER_S CPU_US_PER_REQUEST" (user + sys of the generator process).
timed() { /usr/bin/time -f '%U %S' -o "$WORK/time" "$@"; }
cpu_per_req() { # rps -> µs of generator CPU per request
    python3 -c 'import sys; u, s = map(float, open(sys.argv[1]).read().split()[-2:]); r = float(sys.argv[2]); print(f"{r:.0f} {(u + s) * 1e6 / (r * float(sys.argv[3])):.2f}")' "$WORK/time" "$1" "$SECS"
}
run_oha() {
    local r
    r=$(timed "$OHA" -z "${SECS}s" -c "$CONNS" --no-tui --output-format json "$URL" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["requestsPerSec"])')
    cpu_per_req "$r"
}
run_wrk() {
    local r
    r=$(timed wrk -t2 -c"$CONNS" -d"${SECS}s" "$URL" | awk '/Requests\/sec/ {print $2}')
    cpu_per_req "$r"
}
run_mlctl() {
    local r
    r=$(timed "$MLCTL" loadtest "$URL" -c "$CONNS" -d "${SECS}s" -o json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])')
    cpu_per_req "$r"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

TOOLS="wrk mlctl"; [ -n "$OHA" ] && TOOLS="oha $TOOLS"
echo "nginx static 200 at $URL; $CONNS connections, ${SECS}s per run, $ROUNDS rounds (${OHA:+$("$OHA" --version), }$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $MLCTL)"
for t in $TOOLS; do : >"$WORK/$t"; done
for r in $(seq "$ROUNDS"); do
    line="round $r:"
    for t in $TOOLS; do
        x=$("run_$t"); echo "$x" >>"$WORK/$t"; line="$line $t $x ·"
    done
    echo "${line% ·}   (req/s, generator CPU µs/request)"
done
ARGS=()
for t in $TOOLS; do ARGS+=("$t" "$(cut -d' ' -f1 "$WORK/$t" | median)" "$(cut -d' ' -f2 "$WORK/$t" | median)"); done
python3 - "${ARGS[@]}" <<'PY'
import sys
a = sys.argv[1:]
r = {a[i]: (float(a[i + 1]), float(a[i + 2])) for i in range(0, len(a), 3)}
print("median req/s: " + " · ".join(f"{t} {v[0]:.0f}" for t, v in r.items()))
m = r["mlctl"]
print("   ".join(f"mlctl / {t} = {m[0] / v[0]:.2f}x (target >= 1.0x)" for t, v in r.items() if t != "mlctl"))
print("generator CPU per request (median µs): " + " · ".join(f"{t} {v[1]:.2f}" for t, v in r.items())
      + "".join(f"  → mlctl costs {m[1] / v[1]:.2f}x {t}'s CPU per request" for t, v in r.items() if t != "mlctl"))
PY
