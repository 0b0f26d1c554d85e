#!/usr/bin/env bash
# Draws docs/bench-rows-per-second.png from the last bench-export.sh and bench-postgres.sh results:
# rows per second of a full 1,000,000-order export for each tool (median of the runs). Needs gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp)
python3 - .build-bench/export-results.txt .build-bench/postgres-results.txt > "$data" <<'PY'
import sys, statistics, collections, os
labels = {"jobdrop-full": "jobdrop (SQLite)", "sqlite3-full": "sqlite3 -csv", "cat-floor": "cat (floor)",
          "psql-copy-full": "psql COPY", "pg:jobdrop-full": "jobdrop (PostgreSQL)"}
times = collections.defaultdict(list)
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    prefix = "pg:" if "postgres" in path else ""
    for line in open(path):
        name, seconds, _ = line.split()
        times[prefix + name if prefix + name in labels else name].append(float(seconds))
for key in ["jobdrop-full", "sqlite3-full", "pg:jobdrop-full", "psql-copy-full", "cat-floor"]:
    if times.get(key):
        print(f'"{labels[key]}" {1_000_000 / statistics.median(times[key]) / 1e6:.3f}')
PY
gnuplot <<GP
set terminal pngcairo size 900,480 font "sans,11"
set output "docs/bench-rows-per-second.png"
set title "Full order\\\\_export of 1,000,000 orders: million rows per second (median, higher is better)"
set style fill solid 0.8
set boxwidth 0.6
set yrange [0:*]
set ylabel "million rows / s"
set grid ytics
unset key
plot "$data" using 0:2:xtic(1) with boxes lc rgb "#3b7dd8", "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,1
GP
rm -f "$data"
echo "wrote docs/bench-rows-per-second.png"
