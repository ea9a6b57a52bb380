#!/usr/bin/env bash
# Load the published archive's pages with wrk: history, version, diff and a table page.
# Usage: bench/serve_bench.sh [DB]   (default: an archive built from corpus/ in a temp dir,
# with a second run so there is a diff). Env: DURATION (s, default 5), CONNECTIONS (32).
# Prints p50/p99 latency and errors per page; "baseline" is Datasette's most trivial JSON page,
# the floor any page pays for the server itself. Traffic goes to 127.0.0.1 only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "wrk is missing (Debian package: wrk)" >&2; exit 2; }

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
"$PY" -c 'import sys; from archive.store import Store; Store(sys.argv[1], create=False).snapshot(sys.argv[2])' \
    "$DB" "$TMP/archive.db"

# The most-changed document's latest version and its previous one.
read -r DOC VER PREV < <("$PY" - "$TMP/archive.db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
doc, ver = c.execute(
    "SELECT document_id, max(id) FROM versions"
    " GROUP BY document_id ORDER BY count(*) DESC, document_id LIMIT 1"
).fetchone()
(prev,) = c.execute("SELECT previous_version_id FROM versions WHERE id = ?", (ver,)).fetchone()
print(doc, ver, prev if prev is not None else ver)
PYEOF
)

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mapfile -t ARGS < <("$PY" -c 'import sys; from pathlib import Path; from archive.serve import datasette_args
print("\n".join(datasette_args(sys.argv[1], Path("metadata.yml"), "127.0.0.1", int(sys.argv[2]))))' \
    "$TMP/archive.db" "$PORT")
"${ARGS[@]}" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    if "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "$BASE/-/versions.json" 2>/dev/null; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.1
done

echo "archive: ${1:-corpus/ (built)}; document $DOC, version $VER (previous $PREV)"
echo "wrk: ${CONNECTIONS} connections, ${DURATION}s per page"
printf '%-10s %10s %10s %10s %8s  %s\n' page req/s p50 p99 errors url
status=0
for spec in \
    "baseline|/-/versions.json" \
    "history|/-/archive/document/$DOC" \
    "version|/-/archive/version/$VER" \
    "diff|/-/archive/diff?from=$PREV&to=$VER" \
    "table|/archive/versions"; do
    name="${spec%%|*}"; path="${spec#*|}"
    out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency "$BASE$path")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    rps="$(awk '$1 == "Requests/sec:" {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    sock="$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
    errors=$(( ${non2xx:-0} + ${sock:-0} ))
    printf '%-10s %10s %10s %10s %8s  %s\n' "$name" "$rps" "$p50" "$p99" "$errors" "$path"
    [ "$errors" -eq 0 ] || status=1
done
exit $status
