#!/usr/bin/env bash
# CPU seconds of the full 1,000,000-row export for several jobdrop builds, alternately, each round also
# timing the sqlite3 CLI on the same columns: this machine's speed drifts by ±15 % within minutes, so two
# builds are compared only inside one alternating run. Prints medians (user + system, system alone, wall,
# the highest peak RSS) and each build's median over the CLI's.
# Usage: scripts/bench-cpu-ab.sh ROUNDS BINARY... (the store comes from scripts/bench-export.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1; shift
work=.build-bench
store=$work/store-1000000.sqlite
[ -f "$store" ] || { echo "run scripts/bench-export.sh first (it makes $store)" >&2; exit 1; }
cols="id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for _ in $(seq "$rounds"); do
  n=0
  for bin in "$@"; do
    rm -rf "$work/inbox" "$work/spool" "$work/outbox"; mkdir -p "$work/inbox"
    echo '{"data": {"type": "job", "job_type": "order_export"}}' > "$work/inbox/r.json"
    /usr/bin/time -f "build$n %U %S %e %M" "$bin" process --inbox "$work/inbox" --spool "$work/spool" \
      --outbox "$work/outbox" --source "sqlite:$store" --log-level error 2>>"$log"
    n=$((n + 1))
  done
  rm -f "$work/cli.csv"
  /usr/bin/time -f "cli %U %S %e %M" bash -c \
    "sqlite3 -csv -header $store \"SELECT $cols FROM orders\" > $work/cli.csv" 2>>"$log"
done
rm -rf "$work/inbox" "$work/spool" "$work/outbox" "$work/cli.csv"
python3 - "$log" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def column(name, pick):
    return [pick(r) for r in rows if r[0] == name]
cli = statistics.median(column("cli", lambda r: float(r[1]) + float(r[2])))
print(f"sqlite3 CLI: {cli:.3f} CPU s (median of {len(column('cli', lambda r: r))})")
for n, binary in enumerate(sys.argv[2:]):
    name = f"build{n}"
    cpu = statistics.median(column(name, lambda r: float(r[1]) + float(r[2])))
    system = statistics.median(column(name, lambda r: float(r[2])))
    wall = statistics.median(column(name, lambda r: float(r[3])))
    rss = max(column(name, lambda r: int(r[4]))) / 1024
    print(f"{binary}: {cpu:.3f} CPU s (system {system:.3f}), wall {wall:.2f} s, peak RSS {rss:.1f} MiB, "
          f"ratio {cpu / cli:.3f}")
PY
