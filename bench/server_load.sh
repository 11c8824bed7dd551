#!/usr/bin/env bash
# Load benchmark of `gannet serve` with wrk on loopback (see bench/README.md).
#
#   bench/server_load.sh [--build-dir DIR] [--duration S] [--connections C] [--threads T]
#                        [--docs N] [--dims D] [--soak S] [--soak-only] [--keep]
#
# Starts a fresh server on a temporary directory and a free loopback port, loads N
# documents (default 10000, D=16-dim vectors, a string `category`, an int `rank`), then
# runs wrk for S seconds (default 15) per scenario: /healthz, a filtered attribute query,
# a small vector query, and single-row upserts. Each scenario prints throughput and
# p50/p90/p99 latency. --soak S then runs a mixed workload (40% filtered queries, 40%
# vector queries, 20% single-row upserts) for S seconds, samples the server's RSS from
# /proc every 10 s, and fails unless there were zero errors and memory stayed flat (mean
# RSS of the last quarter of samples within 10% of the first quarter's; for soaks of 300 s
# or more the first minute is warm-up and left out). --soak-only skips
# the short scenarios. Figures go to bench/results/server-<UTC timestamp>.json.
#
# wrk and the server share this machine's cores: the figures are for both together.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="build"
DURATION=15
CONNS=16
THREADS=2
DOCS=10000
DIMS=16
SOAK=0
SOAK_ONLY=0
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --docs) DOCS="$2"; shift 2 ;;
    --dims) DIMS="$2"; shift 2 ;;
    --soak) SOAK="$2"; shift 2 ;;
    --soak-only) SOAK_ONLY=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "server_load: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/gannet"

# --- prerequisites ------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  echo "server_load: installing wrk (Debian package)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk
fi
for tool in python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "server_load: $tool is required" >&2; exit 1; }
done
if [ ! -x "$BIN" ]; then
  echo "server_load: $BIN not found; building it"
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build "$BUILD_DIR" --target gannet_cli -j "$(nproc)"
fi

WORK="$(mktemp -d /tmp/gannet-load.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
SERVER_PID=""
STATUS=1  # set to 0 at the very end: a failed run keeps its files
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ] || [ "$STATUS" != 0 ]; then
    echo "server_load: kept $WORK (server.log, wrk output, rss.csv)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# --- server and data ------------------------------------------------------------------
mkdir -p "$WORK/data"
"$BIN" serve --data "$WORK/data" --listen "127.0.0.1:$PORT" --no-access-log \
  2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  curl -sf "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.05
done
curl -sf "$URL/healthz" >/dev/null || { echo "server_load: server not healthy" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }

echo "server_load: gannet serve pid $SERVER_PID on $URL; loading $DOCS docs x $DIMS dims"
python3 - "$URL" "$DOCS" "$DIMS" <<'EOF'
import json, random, sys, time, urllib.request
url, docs, dims = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
start = time.time()
for base in range(0, docs, 1000):
    rows = [{"id": i, "vector": [rng.uniform(-1, 1) for _ in range(dims)],
             "category": "cat_%02d" % (i % 20), "rank": rng.randrange(1000000)}
            for i in range(base, min(docs, base + 1000))]
    body = {"upsert_rows": rows, "distance_metric": "cosine_distance"}
    req = urllib.request.Request(url + "/v2/namespaces/bench", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200, r.read()
print("server_load: loaded %d docs in %.1f s" % (docs, time.time() - start))
EOF

# --- wrk scripts ----------------------------------------------------------------------
# Shared by every scenario: a per-thread random seed and a machine-readable summary line.
cat >"$WORK/common.lua" <<EOF
local thread_count = 0
local threads = {}
function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end
-- Per thread: answers with status >= 400, and the first one's status and body.
bad = 0
first_bad = ""
function response(status, headers, body)
  if status >= 400 then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
end
function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
end
DOCS = $DOCS
DIMS = $DIMS
HEADERS = {["Content-Type"] = "application/json"}
function random_vector()
  local v = {}
  for i = 1, DIMS do v[i] = string.format("%.5f", math.random() * 2 - 1) end
  return "[" .. table.concat(v, ",") .. "]"
end
function filter_query()
  return wrk.format("POST", "/v2/namespaces/bench/query", HEADERS,
    '{"rank_by": ["rank", "desc"], "top_k": 10, "filters": ["And", [["category", "Eq", "cat_03"], ' ..
    '["rank", "Gte", 500000]]], "include_attributes": ["rank", "category"]}')
end
function vector_query()
  return wrk.format("POST", "/v2/namespaces/bench/query", HEADERS,
    '{"rank_by": ["vector", "kNN", ' .. random_vector() .. '], "top_k": 10, ' ..
    '"include_attributes": ["category"]}')
end
function single_write()
  local id = math.random(0, DOCS - 1)
  return wrk.format("POST", "/v2/namespaces/bench", HEADERS,
    string.format('{"upsert_rows": [{"id": %d, "vector": %s, "category": "cat_%02d", "rank": %d}]}',
                  id, random_vector(), id % 20, math.random(0, 999999)))
end
function done(summary, latency, requests)
  local e = summary.errors
  for _, t in ipairs(threads) do
    local fb = t:get("first_bad")
    if fb and fb ~= "" then io.write("FIRST_BAD " .. fb .. "\\n") end
  end
  io.write(string.format('RESULT {"requests": %d, "duration_s": %.3f, "errors": %d, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, ' ..
    '"errors_timeout": %d, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"mean_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6,
    e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3))
end
EOF
cat "$WORK/common.lua" >"$WORK/healthz.lua"
printf 'request = function() return wrk.format("GET", "/healthz") end\n' >>"$WORK/healthz.lua"
cat "$WORK/common.lua" >"$WORK/query_filter.lua"
printf 'request = filter_query\n' >>"$WORK/query_filter.lua"
cat "$WORK/common.lua" >"$WORK/query_vector.lua"
printf 'request = vector_query\n' >>"$WORK/query_vector.lua"
cat "$WORK/common.lua" >"$WORK/write_single.lua"
printf 'request = single_write\n' >>"$WORK/write_single.lua"
cat "$WORK/common.lua" >"$WORK/mixed.lua"
cat >>"$WORK/mixed.lua" <<'EOF'
request = function()
  local r = math.random()
  if r < 0.4 then return filter_query() elseif r < 0.8 then return vector_query() end
  return single_write()
end
EOF

# Runs one wrk scenario; appends {"name": ..., wrk's RESULT figures} to results.jsonl.
run_wrk() {
  local name="$1" seconds="$2"
  wrk -t "$THREADS" -c "$CONNS" -d "${seconds}s" --timeout 10s -s "$WORK/$name.lua" "$URL" \
    >"$WORK/$name.out" 2>&1 || { cat "$WORK/$name.out" >&2; return 1; }
  local line
  line="$(grep '^RESULT ' "$WORK/$name.out" | tail -1 | sed 's/^RESULT //')"
  [ -n "$line" ] || { cat "$WORK/$name.out" >&2; return 1; }
  grep '^FIRST_BAD ' "$WORK/$name.out" | head -3 | sed "s/^/$name: /" >&2 || true
  grep -E 'Socket errors|Non-2xx' "$WORK/$name.out" | sed "s/^ */$name: wrk: /" >&2 || true
  python3 - "$name" "$line" >>"$WORK/results.jsonl" <<'EOF'
import json, sys
r = json.loads(sys.argv[2]); r["name"] = sys.argv[1]
r["req_per_s"] = r["requests"] / r["duration_s"]
print(json.dumps(r))
EOF
  tail -1 "$WORK/results.jsonl" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("%-14s %10.0f req/s   p50 %7.2f ms   p90 %7.2f ms   p99 %7.2f ms   errors %d" %
      (r["name"], r["req_per_s"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["errors"]))'
}

: >"$WORK/results.jsonl"
if [ "$SOAK_ONLY" != 1 ]; then
  echo "server_load: wrk -t $THREADS -c $CONNS, ${DURATION}s per scenario (cores: $(nproc), shared by wrk and the server)"
  for scenario in healthz query_filter query_vector write_single; do
    run_wrk "$scenario" "$DURATION"
  done
  echo "server_load: server RSS after the scenarios: $(( $(rss_kib) / 1024 )) MiB"
fi

SOAK_JSON="null"
if [ "$SOAK" -gt 0 ]; then
  echo "server_load: soak, mixed workload for ${SOAK}s (40% filtered query, 40% vector query, 20% single-row upsert); RSS every 10 s"
  : >"$WORK/rss.csv"
  run_wrk mixed "$SOAK" &
  WRK_PID=$!
  elapsed=0
  while kill -0 "$WRK_PID" 2>/dev/null; do
    echo "$elapsed,$(rss_kib)" >>"$WORK/rss.csv"
    sleep 10
    elapsed=$((elapsed + 10))
  done
  wait "$WRK_PID"
  SOAK_JSON="$(python3 - "$WORK/rss.csv" "$WORK/results.jsonl" <<'EOF'
import json, sys
samples = [tuple(map(int, l.split(","))) for l in open(sys.argv[1]) if l.strip()]
mixed = [json.loads(l) for l in open(sys.argv[2]) if '"mixed"' in l][-1]
# The first minute (warm-up: caches filling, first index builds) is left out of the
# comparison when the soak is long enough to afford it.
warm = [(t, kib) for t, kib in samples if t >= 60] if samples and samples[-1][0] >= 300 else samples
rss_all = [kib / 1024 for _, kib in samples]
rss = [kib / 1024 for _, kib in warm]
q = max(1, len(rss) // 4)
first, last = sum(rss[:q]) / q, sum(rss[-q:]) / q
growth = (last - first) / first if first else 0.0
out = {"seconds": mixed["duration_s"], "requests": mixed["requests"],
       "req_per_s": mixed["req_per_s"], "errors": mixed["errors"],
       "errors_by_kind": {k[7:]: v for k, v in mixed.items() if k.startswith("errors_")},
       "p50_ms": mixed["p50_ms"], "p99_ms": mixed["p99_ms"],
       "rss_samples_mib": [round(x, 1) for x in rss_all],
       "rss_compared_from_s": warm[0][0] if warm else 0,
       "rss_first_quarter_mib": round(first, 1), "rss_last_quarter_mib": round(last, 1),
       "rss_max_mib": round(max(rss_all), 1), "rss_growth": round(growth, 4),
       "memory_flat": growth <= 0.10, "zero_errors": mixed["errors"] == 0}
print(json.dumps(out))
EOF
)"
  python3 -c '
import json, sys
s = json.loads(sys.argv[1])
print("soak: %d requests in %.0f s (%.0f req/s), errors %d, p50 %.2f ms, p99 %.2f ms" %
      (s["requests"], s["seconds"], s["req_per_s"], s["errors"], s["p50_ms"], s["p99_ms"]))
print("soak: RSS MiB (from %d s) first quarter %.1f, last quarter %.1f, max %.1f (growth %+.1f%%): %s" %
      (s["rss_compared_from_s"], s["rss_first_quarter_mib"], s["rss_last_quarter_mib"], s["rss_max_mib"],
       100 * s["rss_growth"], "flat" if s["memory_flat"] else "NOT FLAT"))
print("soak: RSS samples (MiB, every 10 s):", " ".join("%.0f" % x for x in s["rss_samples_mib"]))' "$SOAK_JSON"
fi

curl -sf "$URL/healthz" >/dev/null || { echo "server_load: server unhealthy after the run" >&2; exit 1; }
FINAL_RSS_MIB=$(( $(rss_kib) / 1024 ))

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/server-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$WORK/results.jsonl" "$SOAK_JSON" "$OUT" "$DOCS" "$DIMS" "$CONNS" "$THREADS" \
  "$FINAL_RSS_MIB" "$(nproc)" <<'EOF'
import json, sys
results = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = {"docs": int(sys.argv[4]), "dims": int(sys.argv[5]), "connections": int(sys.argv[6]),
       "wrk_threads": int(sys.argv[7]), "final_rss_mib": int(sys.argv[8]),
       "cores": int(sys.argv[9]),
       "scenarios": [r for r in results if r["name"] != "mixed"],
       "soak": json.loads(sys.argv[2])}
json.dump(out, open(sys.argv[3], "w"), indent=1)
EOF
echo "server_load: results in $OUT"

# Graceful shutdown must succeed (drain, flush).
kill -TERM "$SERVER_PID"
if ! wait "$SERVER_PID"; then
  echo "server_load: gannet serve did not exit cleanly" >&2
  tail -20 "$WORK/server.log" >&2
  exit 1
fi
SERVER_PID=""
if [ "$SOAK" -gt 0 ]; then
  python3 -c '
import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if s["zero_errors"] and s["memory_flat"] else 1)' "$SOAK_JSON" ||
    { echo "server_load: soak FAILED (errors or memory growth)" >&2; exit 1; }
fi
STATUS=0
