#!/usr/bin/env bash
# Soak: the gateway under mixed good, bad and slow clients for a while, on 127.0.0.1.
#   - good:  mlctl loadtest, open loop at RATE req/s with routing keys, SLO: no error at all
#   - bad:   a Python client looping over malformed JSON, repeated outputs, oversized ids,
#            bodies over --max-body, unknown models, wrong tokens (each must get a 4xx)
#   - slow:  slowloris: connections that trickle header bytes or a body and go silent,
#            re-opened as the gateway closes them (--idle-timeout / --body-timeout)
# Every 10 s: the gateway's RSS and open descriptors. Prints the loadtest report, the bad
# clients' status counts (any 5xx fails), and RSS first/max/last: flat means last ≤ 1.2 × the
# value after warm-up.
# Usage: bench/soak.sh [seconds=600] [rate=300]
source "$(dirname "$0")/lib.sh"
SECS=${1:-600}
RATE=${2:-300}
build_mlctl
MLCTL_FLAGS="--idle-timeout 5s --body-timeout 5s --max-body 1MiB"
MLCTL_DATA="$WORK/mlctl-data"
"$MLCTL" serve --listen 127.0.0.1:0 --data-dir "$MLCTL_DATA" $MLCTL_FLAGS >"$WORK/mlctl.out" 2>"$WORK/mlctl.err" &
SERVE_PID=$!
PIDS+=($SERVE_PID)
until grep -q "listening on" "$WORK/mlctl.out" 2>/dev/null; do sleep 0.05; done
MLCTL_URL=$(sed -n 's/^mlctl: listening on //p' "$WORK/mlctl.out")
export MLCTL_ENDPOINT="$MLCTL_URL" MLCTL_DATA_DIR="$MLCTL_DATA"
"$MLCTL" deploy churn --version 1 --onnx "$ROOT/fixtures/models/churn_lr.onnx" >/dev/null
printf '1.2,55,-0.9,530\n0.1,40,-1.1,470\n' >"$WORK/rows.csv"
HOSTPORT=${MLCTL_URL#http://}

python3 - "$HOSTPORT" "$SECS" >"$WORK/bad.txt" 2>&1 <<'PY' &
import collections, json, socket, sys, time
host, port = sys.argv[1].split(":"); port = int(port); until = time.time() + float(sys.argv[2])
one = {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1.2, 55.0, -0.9, 530.0]}
bodies = [
    ("/v2/models/churn/infer", b"{not json", ""),
    ("/v2/models/churn/infer", json.dumps({"inputs": [one], "outputs": [{"name": "label"}] * 500}).encode(), ""),
    ("/v2/models/churn/infer", json.dumps({"id": "x" * 5000, "inputs": [one]}).encode(), ""),
    ("/v2/models/churn/infer", b" " * (2 << 20), ""),
    ("/v2/models/nope/infer", json.dumps({"inputs": [one]}).encode(), ""),
    ("/admin/v1/blobs", b"\0" * (256 << 10), "Authorization: Bearer wrong\r\n"),
    ("/v2/models/churn/infer", json.dumps({"inputs": [dict(one, shape=[1, 5])]}).encode(), ""),
]
counts = collections.Counter()
while time.time() < until:
    for path, body, extra in bodies:
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            counts[data[9:12].decode() or "none"] += 1
        except Exception as e:
            counts[type(e).__name__] += 1
    time.sleep(0.05)
print(json.dumps(counts))
PY
BAD_PID=$!
PIDS+=($BAD_PID)

python3 - "$HOSTPORT" "$SECS" >"$WORK/slow.txt" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split(":"); port = int(port); until = time.time() + float(sys.argv[2])
N = 200
conns, reopened = [], 0
def fresh(i):
    s = socket.create_connection((host, port), timeout=5)
    s.setblocking(False)
    head = b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\n"
    if i % 2:
        s.send(head + b"Content-Length: 1000\r\n\r\n{\"in")   # half a body
    else:
        s.send(head[:20])                                      # half a head
    return s
conns = [fresh(i) for i in range(N)]
while time.time() < until:
    for i, s in enumerate(conns):
        try:
            s.send(b"X")        # one byte now and then: slowloris
        except OSError:
            try:
                s.close()
                conns[i] = fresh(i)
                reopened += 1
            except OSError:
                pass
    time.sleep(1.0)
print(f"slow connections held: {N}, closed by the gateway and reopened: {reopened}")
PY
SLOW_PID=$!
PIDS+=($SLOW_PID)

(
    while kill -0 "$SERVE_PID" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status)
        fds=$(ls /proc/$SERVE_PID/fd | wc -l)
        echo "$(date +%s) $rss $fds"
        sleep 10
    done
) >"$WORK/rss.txt" &
PIDS+=($!)

set +e
"$MLCTL" loadtest --model churn --input "$WORK/rows.csv" --rate "${RATE}/s" --duration "${SECS}s" \
    --routing-keys 1000 --slo 'error_rate<=0' >"$WORK/load.txt" 2>/dev/null
LOAD_RC=$?
set -e
wait "$BAD_PID" "$SLOW_PID" 2>/dev/null || true
cat "$WORK/load.txt"
echo "loadtest exit: $LOAD_RC (0: every well-formed request answered 2xx)"
echo "bad clients (status → count): $(cat "$WORK/bad.txt")"
cat "$WORK/slow.txt"
python3 - "$WORK/rss.txt" "$WORK/bad.txt" <<'PY'
import json, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rss = [int(r[1]) / 1024 for r in rows]; fds = [int(r[2]) for r in rows]
warm = rss[min(3, len(rss) - 1)]
print(f"gateway RSS MiB: first {rss[0]:.0f}, after warm-up {warm:.0f}, max {max(rss):.0f}, last {rss[-1]:.0f}"
      f" ({'flat' if rss[-1] <= 1.2 * warm else 'GROWING'}); open fds max {max(fds)}")
bad = json.load(open(sys.argv[2]))
fivexx = sum(v for k, v in bad.items() if k.startswith("5"))
print(f"bad clients answered 5xx: {fivexx}")
sys.exit(1 if fivexx or rss[-1] > 1.2 * warm else 0)
PY
