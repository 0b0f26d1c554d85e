#!/usr/bin/env bash
# PostgreSQL export speed: `jobdrop process --source postgres://…` next to `psql -c "COPY (…) TO STDOUT WITH
# CSV HEADER"` on the same server, full and filtered order_export, whole processes, interleaved, median/min/max
# of RUNS (default 3) and peak RSS, and the server's own CPU for each (its processes' times from /proc: on a
# small machine the server's work bounds both). Starts its own server (PostgreSQL 15, Debian) on 127.0.0.1
# and stops it.
# Usage: scripts/bench-postgres.sh [ORDERS]
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-1000000}
runs=${RUNS:-3}
bin=$PWD/.build/release/jobdrop
pgbin=/usr/lib/postgresql/15/bin
work=$PWD/.build-bench/postgres-$orders
as_postgres=()
[ "$(id -u)" -eq 0 ] && as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="postgres://jobdrop:bench@127.0.0.1:$port/postgres"
if [ ! -f "$work/ready" ]; then
  rm -rf "$work"; mkdir -p "$work/data"; echo bench > "$work/pwfile"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work"
  "${as_postgres[@]}" "$pgbin/initdb" -D "$work/data" -U jobdrop --pwfile="$work/pwfile" --auth-host=scram-sha-256 >/dev/null
fi
"${as_postgres[@]}" "$pgbin/postgres" -D "$work/data" -k "$work" -c listen_addresses=127.0.0.1 -p "$port" \
  > "$work/server.log" 2>&1 &
server=$!
trap 'kill -INT $server; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do PGPASSWORD=bench psql -X -q -d "$url" -c 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
if [ ! -f "$work/ready" ]; then
  "$bin" demo-data --orders "$orders" --source "$url"
  touch "$work/ready"
fi
cols="id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at"
filter_ep="ge(created_at,2025-01-01):lt(created_at,2026-01-01):eq(payment,paid)"
filter_sql="created_at >= '2025-01-01T00:00:00Z' AND created_at < '2026-01-01T00:00:00Z' AND payment = 'paid'"
jobs=$work/jobs
# CPU clock ticks (user + system) of the server and its backends, living and reaped: what the server spent.
server_ticks() {
  local total=0 p f
  for p in $server $(pgrep -P $server); do
    read -r -a f < /proc/$p/stat 2>/dev/null || continue
    total=$((total + f[13] + f[14] + f[15] + f[16]))
  done
  echo $total
}
server_results=$(mktemp)
measure() {
  local name=$1 before; shift
  before=$(server_ticks)
  /usr/bin/time -f "$name %e %M %U %S" "$@" 2>&1 >/dev/null | tail -n 1
  echo "$name $(( $(server_ticks) - before ))" >> "$server_results"
}
jobdrop_measure() { # name, filter: a fresh inbox with one request (made before the timed run)
  rm -rf "$jobs"; mkdir -p "$jobs/inbox"
  if [ -n "$2" ]; then f=", \"filter\": \"$2\""; else f=""; fi
  echo "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\"$f}}" > "$jobs/inbox/r.json"
  measure "$1" "$bin" process --inbox "$jobs/inbox" --spool "$jobs/spool" --outbox "$jobs/outbox" --source "$url" \
    --log-level error
}
psql_measure() { # name, where (may be empty)
  rm -f "$work/copy.csv"
  measure "$1" bash -c "PGPASSWORD=bench psql -X -d $url -c \"COPY (SELECT $cols FROM orders ${2:+WHERE $2}) TO STDOUT WITH CSV HEADER\" > $work/copy.csv"
}
results=$(mktemp)
for _ in $(seq "$runs"); do
  jobdrop_measure jobdrop-full "" >> "$results"
  psql_measure psql-copy-full >> "$results"
  jobdrop_measure jobdrop-filtered "$filter_ep" >> "$results"
  psql_measure psql-copy-filtered "$filter_sql" >> "$results"
done
echo "orders: $orders; runs: $runs; $(nproc) cores; PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'); $(date -u +%Y-%m-%d)"
python3 scripts/bench-summary.py "$results" psql-copy
python3 - "$server_results" "$(getconf CLK_TCK)" <<'PY'
import collections, statistics, sys
ticks = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, count = line.split()
    ticks[name].append(int(count) / int(sys.argv[2]))
print("server CPU s (median, the postgres processes): " + ", ".join(
    f"{name} {statistics.median(values):.2f}" for name, values in ticks.items()))
PY
rm -f "$server_results"
cp "$results" "$PWD/.build-bench/postgres-results.txt"
rm -f "$results"
