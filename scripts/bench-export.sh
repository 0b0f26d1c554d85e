#!/usr/bin/env bash
# Export speed and peak RSS: `jobdrop process` next to the sqlite3 CLI and a plain copy of the same bytes.
# Whole processes, interleaved, median/min/max of RUNS (default 3); each tool's previous output is removed
# before (not during) its timed run. Usage: scripts/bench-export.sh [ORDERS]
#
# Two copies of the demo store: as `demo-data` writes it (rows in creation order, as a live store fills
# its table) and the same rows loaded in id order (as a restore from a dump sorted by primary key
# leaves them), where SQLite's own plan for a wide created_at range reads the rows in random order.
# The stores are cached in .build-bench/: remove it after changing DemoData.
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-1000000}
runs=${RUNS:-3}
bin=.build/release/jobdrop
work=.build-bench
store=$work/store-$orders.sqlite
byid=$work/store-$orders-by-id.sqlite
small=$work/store-100000.sqlite
mkdir -p "$work"
[ -f "$store" ] || "$bin" demo-data --orders "$orders" --source "sqlite:$store"
[ -f "$small" ] || "$bin" demo-data --orders 100000 --source "sqlite:$small"
if [ ! -f "$byid" ]; then
  schema=$(sqlite3 "$store" ".schema orders")
  sqlite3 "$byid.tmp" "$(grep -v 'CREATE INDEX' <<<"$schema"); ATTACH '$store' AS s;
    INSERT INTO orders SELECT * FROM s.orders ORDER BY id; $(grep 'CREATE INDEX' <<<"$schema")"
  mv "$byid.tmp" "$byid"
fi
cols="id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at"
filter_ep="ge(created_at,2025-01-01):lt(created_at,2026-01-01):eq(payment,paid)"
filter_sql="created_at >= '2025-01-01T00:00:00Z' AND created_at < '2026-01-01T00:00:00Z' AND payment = 'paid'"

measure() { # name, command...: prints "name seconds kilobytes user-seconds system-seconds"
  local name=$1; shift
  /usr/bin/time -f "$name %e %M %U %S" "$@" 2>&1 >/dev/null | tail -n 1
}
jobdrop_prepare() { # filter (may be empty): a fresh inbox with one request, empty spool and outbox
  rm -rf "$work/inbox" "$work/spool" "$work/outbox"; mkdir -p "$work/inbox"
  if [ -n "$1" ]; then f=", \"filter\": \"$1\""; else f=""; fi
  echo "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\"$f}}" > "$work/inbox/r.json"
}
jobdrop_measure() { # name, filter, store
  jobdrop_prepare "$2"
  measure "$1" "$bin" process --inbox "$work/inbox" --spool "$work/spool" --outbox "$work/outbox" \
    --source "sqlite:$3" --log-level error
}
cli_measure() { # name, store, where (may be empty)
  rm -f "$work/cli.csv"
  measure "$1" bash -c "sqlite3 -csv -header $2 \"SELECT $cols FROM orders ${3:+WHERE $3}\" > $work/cli.csv"
}

results=$(mktemp)
"$bin" process --help >/dev/null
sqlite3 -csv -header "$store" "SELECT $cols FROM orders" > "$work/same-size.csv"
for run in $(seq "$runs"); do
  jobdrop_measure jobdrop-full "" "$store" >> "$results"
  cli_measure sqlite3-full "$store" >> "$results"
  rm -f "$work/copy.csv"
  measure cat-floor bash -c "cat $work/same-size.csv > $work/copy.csv" >> "$results"
  jobdrop_measure jobdrop-filtered "$filter_ep" "$store" >> "$results"
  jobdrop_measure jobdrop-full-100k "" "$small" >> "$results"
  cli_measure sqlite3-filtered "$store" "$filter_sql" >> "$results"
  jobdrop_measure jobdrop-filtered-by-id "$filter_ep" "$byid" >> "$results"
  cli_measure sqlite3-filtered-by-id "$byid" "$filter_sql" >> "$results"
done
rows=$(sqlite3 "$store" "SELECT count(*) FROM orders WHERE $filter_sql")
echo "orders: $orders; filtered rows: $rows ($((rows * 100 / orders)) %); runs: $runs; $(nproc) cores; $(date -u +%Y-%m-%d)"
python3 scripts/bench-summary.py "$results" sqlite3
cp "$results" "$work/export-results.txt"
rm -f "$results"
