#!/usr/bin/env bash
# Load the published archive's pages with wrk: history, version, diff and a table page.
# Usage: bench/serve_bench.sh [DB]   (default: an archive built from corpus/ in a temp dir,
# with a second run so there is a diff). Env: DURATION (s per measurement, default 5),
# CONNECTIONS (32), WORKERS (default: archive serve's, one per CPU), ARCHIVE_SERVE_CACHE=0 to
# serve without the response cache.
# The server is started exactly as `archive serve` starts it (snapshot, workers, cache).
# Two passes, both with p50/p99 latency and errors:
#   fixed:  each page's one URL for DURATION s (with the cache, mostly hits after the first);
#           "baseline" is Datasette's most trivial JSON page, the floor of the server itself.
#   varied: one wrk run rotating over every document's history, every version and every
#           consecutive diff (bench/varied.lua), so nearly every request renders a page;
#           with the server's CPU time per request (user + system of the server and its
#           workers, from /proc), and per rendered page (the requests a worker's response
#           cache answered, once the run has asked for every URL, left out): the figures a
#           busy shared machine moves least; and how many connections each worker
#           holds (wrk's are kept alive, so the split at connect time is the split for the
#           whole run).
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || {
    echo "wrk is missing: install the Debian package (as root: apt-get install -y wrk)" >&2
    exit 2
}

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT"

DB="${1:-}"
if [ -z "$DB" ]; then
    DB="$TMP/bench.db"
    cp -r corpus "$TMP/src"
    "$PY" -c 'from archive.cli import cli; cli()' ingest "$TMP/src" --db "$DB" >/dev/null
    first="$(ls "$TMP/src" | head -n 1)"
    printf '\nA line added for the benchmark.\n' >> "$TMP/src/$first"
    "$PY" -c 'from archive.cli import cli; cli()' ingest "$TMP/src" --db "$DB" >/dev/null
fi
# Every page to rotate over, in a fixed shuffled order (kinds interleaved), and the
# most-changed document's latest version and its previous one for the fixed pass.
read -r DOC VER PREV NURLS < <("$PY" - "$DB" "$TMP/urls.txt" <<'PYEOF'
import random, sqlite3, sys
from pathlib import Path
c = sqlite3.connect(Path(sys.argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
doc, ver = c.execute(
    "SELECT document_id, max(id) FROM versions"
    " GROUP BY document_id ORDER BY count(*) DESC, document_id LIMIT 1"
).fetchone()
(prev,) = c.execute("SELECT previous_version_id FROM versions WHERE id = ?", (ver,)).fetchone()
urls = [f"/-/archive/document/{d}" for (d,) in c.execute("SELECT id FROM documents")]
urls += [f"/-/archive/version/{v}" for (v,) in c.execute("SELECT id FROM versions")]
urls += [
    f"/-/archive/diff?from={p}&to={v}"
    for p, v in c.execute(
        "SELECT previous_version_id, id FROM versions WHERE previous_version_id IS NOT NULL"
    )
]
random.Random(0).shuffle(urls)
Path(sys.argv[2]).write_text("\n".join(urls) + "\n")
print(doc, ver, prev if prev is not None else ver, len(urls))
PYEOF
)

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
WORKERS="${WORKERS:-$("$PY" -c 'from archive.publish.server.serve import default_workers; print(default_workers())')}"
CACHE="$("$PY" -c 'import os; from archive.publish.server.cache import cache_settings; print("on" if cache_settings(os.environ).enabled else "off")')"
"$PY" -m archive serve --db "$DB" --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" \
    --metadata metadata.yml >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
# Every worker warmed up before measuring: the first one ready would otherwise take every
# connection wrk opens (uvicorn says "Application startup complete." once per worker).
for _ in $(seq 1 600); do
    ready="$(grep -c 'Application startup complete' "$TMP/server.log" || true)"
    if [ "${ready:-0}" -ge "$WORKERS" ] && "$PY" -c \
        'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "$BASE/-/versions.json" 2>/dev/null; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.1
done

echo "archive: ${1:-corpus/ (built)}; document $DOC, version $VER (previous $PREV)"
echo "server: archive serve, uvicorn, $WORKERS workers, response cache $CACHE"
echo "wrk: ${CONNECTIONS} connections, ${DURATION}s per measurement"
status=0

server_ticks() {  # CPU clock ticks (user + system) of the server and its workers so far
    local total=0 pid
    for pid in "$SERVER_PID" $(pgrep -P "$SERVER_PID" || true); do
        [ -r "/proc/$pid/stat" ] || continue
        total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat") ))
    done
    echo "$total"
}

worker_connections() {  # established connections each worker holds, most first (needs ss)
    command -v ss >/dev/null || return 0
    local counts
    counts="$(ss -tnpH state established "( sport = :$PORT )" 2>/dev/null |
        grep -o 'pid=[0-9]*' | sort | uniq -c | awk '{print $1}' | sort -rn | tr '\n' ' ')"
    set -- $counts
    while [ "$#" -lt "$WORKERS" ]; do set -- "$@" 0; done
    echo "$*"
}

measure() {  # name label path [wrk args...]: one wrk run, one line of figures
    local name="$1" label="$2" path="$3" out p50 p99 rps non2xx sock errors
    shift 3
    out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency "$@" "$BASE$path")"
    LAST_REQUESTS="$(awk '/requests in/ {print $1}' <<<"$out")"
    LAST_HITS="$(awk '/^cache hits:/ {print $3}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    rps="$(awk '$1 == "Requests/sec:" {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    sock="$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
    errors=$(( ${non2xx:-0} + ${sock:-0} ))
    printf '%-10s %10s %10s %10s %8s  %s\n' "$name" "$rps" "$p50" "$p99" "$errors" "$label"
    [ "$errors" -eq 0 ] || status=1
}

echo
echo "fixed pass: one URL per page"
printf '%-10s %10s %10s %10s %8s  %s\n' page req/s p50 p99 errors url
for spec in \
    "baseline|/-/versions.json" \
    "history|/-/archive/document/$DOC" \
    "version|/-/archive/version/$VER" \
    "diff|/-/archive/diff?from=$PREV&to=$VER" \
    "table|/archive/versions"; do
    measure "${spec%%|*}" "${spec#*|}" "${spec#*|}"
done

echo
echo "varied pass: $NURLS distinct URLs in rotation (histories, versions, consecutive diffs)"
printf '%-10s %10s %10s %10s %8s  %s\n' pass req/s p50 p99 errors urls
export BENCH_URLS="$TMP/urls.txt" BENCH_THREADS=2
before="$(server_ticks)"
(sleep "$(( (DURATION + 1) / 2 ))"; worker_connections >"$TMP/split") &
SPLIT_PID=$!
measure varied "$NURLS pages" / -s "$ROOT/bench/varied.lua"
after="$(server_ticks)"
wait "$SPLIT_PID" 2>/dev/null || true
[ -s "$TMP/split" ] && echo "connections per worker: $(cat "$TMP/split")" \
    "(the busiest worker's queue sets the tail)"
if [ -d /proc/self ] && [ "${LAST_REQUESTS:-0}" -gt 0 ]; then
    awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$LAST_REQUESTS" \
        -v h="${LAST_HITS:-0}" 'BEGIN {
            printf "server CPU per request: %.2f ms (%d requests, %d of them cache hits)\n",
                t * 1000 / hz / n, n, h
            if (n > h) printf "server CPU per rendered page: %.2f ms (hits counted as free)\n",
                t * 1000 / hz / (n - h)
        }'
fi
exit $status
