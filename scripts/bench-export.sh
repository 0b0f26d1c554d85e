#!/usr/bin/env bash
# Export speed and peak RSS: `jobdrop process` next to the sqlite3 CLI and a plain copy of the same bytes.
# Whole processes, interleaved, median/min/max of RUNS (default 3). Usage: scripts/bench-export.sh [ORDERS]
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-1000000}
runs=${RUNS:-3}
bin=.build/release/jobdrop
work=.build-bench
store=$work/store-$orders.sqlite
small=$work/store-100000.sqlite
mkdir -p "$work"
[ -f "$store" ] || "$bin" demo-data --orders "$orders" --source "sqlite:$store"
[ -f "$small" ] || "$bin" demo-data --orders 100000 --source "sqlite:$small"
cols="id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at"
filter_ep="ge(created_at,2023-01-01):lt(created_at,2024-01-01):eq(payment,paid)"
filter_sql="created_at >= '2023-01-01T00:00:00Z' AND created_at < '2024-01-01T00:00:00Z' AND payment = 'paid'"

measure() { # name, command...: prints "name seconds kilobytes"
  local name=$1; shift
  /usr/bin/time -f "$name %e %M" "$@" 2>&1 >/dev/null | tail -n 1
}
jobdrop_run() { # filter (may be empty)
  rm -rf "$work/inbox" "$work/spool" "$work/outbox"; mkdir -p "$work/inbox"
  if [ -n "$1" ]; then f=", \"filter\": \"$1\""; else f=""; fi
  echo "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\"$f}}" > "$work/inbox/r.json"
  "$bin" process --inbox "$work/inbox" --spool "$work/spool" --outbox "$work/outbox" --source "sqlite:${2:-$store}" --log-level error
}
export -f jobdrop_run; export bin work store small

results=$(mktemp)
"$bin" process --help >/dev/null
sqlite3 -csv -header "$store" "SELECT $cols FROM orders" > "$work/same-size.csv"
for run in $(seq "$runs"); do
  measure "jobdrop-full" bash -c 'jobdrop_run ""' >> "$results"
  measure "sqlite3-full" bash -c "sqlite3 -csv -header $store \"SELECT $cols FROM orders\" > $work/cli.csv" >> "$results"
  measure "cat-floor" bash -c "cat $work/same-size.csv > $work/copy.csv" >> "$results"
  measure "jobdrop-filtered" bash -c "jobdrop_run \"$filter_ep\"" >> "$results"
  measure "jobdrop-full-100k" bash -c 'jobdrop_run "" "$small"' >> "$results"
  measure "sqlite3-filtered" bash -c "sqlite3 -csv -header $store \"SELECT $cols FROM orders WHERE $filter_sql\" > $work/cli.csv" >> "$results"
done
rows=$(sqlite3 "$store" "SELECT count(*) FROM orders WHERE $filter_sql")
echo "orders: $orders; filtered rows: $rows; runs: $runs; $(nproc) cores; $(date -u +%Y-%m-%d)"
python3 scripts/bench-summary.py "$results" sqlite3
cp "$results" "$work/export-results.txt"
rm -f "$results"
