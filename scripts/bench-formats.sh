#!/usr/bin/env bash
# Every export format at 100,000 and 1,000,000 orders: wall seconds, CPU seconds and peak RSS of
# `jobdrop process`, next to a peer reading the same SQLite store: the sqlite3 CLI (`-csv`, `-json`) and
# Python's xlsxwriter in its constant_memory mode (PyPI). Usage: scripts/bench-formats.sh [RUNS]
# Stores are the ones bench-export.sh caches in .build-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-${RUNS:-1}}
bin=.build/release/jobdrop
work=.build-bench
mkdir -p "$work"
python3 -c "import xlsxwriter" 2>/dev/null || python3 -m pip install -q xlsxwriter
cols="id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at"

measure() { # name, command...: prints "name wall cpu kilobytes bytes of $work/result.*"
  local name=$1; shift
  local line
  line=$(/usr/bin/time -f "%e %U %S %M" "$@" 2>&1 >/dev/null | tail -n 1)
  read -r wall user sys rss <<<"$line"
  local size
  size=$(cat "$work"/result.* 2>/dev/null | wc -c)
  echo "$name $wall $(awk "BEGIN { print $user + $sys }") $rss $size"
}
jobdrop_format() { # orders, format
  rm -rf "$work/inbox" "$work/spool" "$work/outbox" "$work"/result.*; mkdir -p "$work/inbox"
  echo "{\"data\": {\"type\": \"job\", \"job_type\": \"order_export\", \"format\": \"$2\"}}" > "$work/inbox/r.json"
  measure "jobdrop-$2-$1" bash -c "'$bin' process --inbox '$work/inbox' --spool '$work/spool' --outbox '$work/outbox' \
    --source 'sqlite:$work/store-$1.sqlite' --log-level error && mv '$work'/outbox/files/*/* '$work/result.$2'"
}

results=$(mktemp)
for orders in 100000 1000000; do
  store=$work/store-$orders.sqlite
  [ -f "$store" ] || "$bin" demo-data --orders "$orders" --source "sqlite:$store" >/dev/null
  for run in $(seq "$runs"); do
    for format in csv csv.gz jsonl jsonl.gz xlsx; do jobdrop_format "$orders" "$format" >> "$results"; done
    rm -f "$work"/result.*
    measure "sqlite3-csv-$orders" bash -c "sqlite3 -csv -header '$store' 'SELECT $cols FROM orders' > '$work/result.csv'" >> "$results"
    rm -f "$work"/result.*
    measure "sqlite3-json-$orders" bash -c "sqlite3 -json '$store' 'SELECT $cols FROM orders' > '$work/result.json'" >> "$results"
    rm -f "$work"/result.*
    measure "xlsxwriter-$orders" python3 - "$store" "$work/result.xlsx" "$cols" <<'PY' >> "$results"
import sqlite3, sys, xlsxwriter
store, target, cols = sys.argv[1:4]
book = xlsxwriter.Workbook(target, {"constant_memory": True})
sheet = book.add_worksheet("export")
sheet.write_row(0, 0, cols.split(","))
for number, row in enumerate(sqlite3.connect(store).execute("SELECT %s FROM orders" % cols), 1):
    sheet.write_row(number, 0, row)
book.close()
PY
  done
done
rm -f "$work"/result.*
echo "formats: $(nproc) cores; $(date -u +%Y-%m-%d); wall and CPU seconds, peak RSS, file size"
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, cpu, rss, size = line.split()
    rows.setdefault(name, []).append((float(wall), float(cpu), int(rss), int(size)))
print("| run | wall s | CPU s | peak RSS MiB | file MB |")
print("|---|---:|---:|---:|---:|")
for name, values in rows.items():
    wall = statistics.median(v[0] for v in values)
    cpu = statistics.median(v[1] for v in values)
    rss = max(v[2] for v in values) / 1024
    size = values[0][3] / 1e6
    print("| %s | %.2f | %.2f | %.0f | %.1f |" % (name, wall, cpu, rss, size))
PY
cp "$results" "$work/formats-results.txt"
rm -f "$results"
