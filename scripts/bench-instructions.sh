#!/usr/bin/env bash
# Instructions (callgrind's Ir) of the full 100,000-row export for several jobdrop builds, next to the
# sqlite3 CLI's on the same columns: unlike CPU seconds on this machine (±15 % within minutes), the
# counts repeat to within a few thousandths, so one run compares two builds of the row path.
#
# Two things keep the counts from being the CPU's story:
# - under valgrind OpenSSL takes its plain SHA-256 code (valgrind's CPU has no SHA extensions), about 28
#   instructions a byte where the hardware's takes a few, so libcrypto's share is printed apart and left
#   out of the comparison;
# - instructions are not cycles: the CLI writes 4 KiB at a time through stdio, and kernel time is not
#   counted at all. `scripts/bench-cpu-ab.sh` measures seconds.
#
# libdispatch's `dispatch_main` waits in `sigsuspend` on a read-only signal mask, which valgrind 3.19
# writes to (and dies); a one-function preload passes it a writable copy instead.
# Then the per-job work of small jobs: 200 requests of `scripts/bench-daemon.py` (one order by number, on
# a 1,000-order store) taken and run by one `jobdrop process` per build, instructions per job (these
# counts move by about 1 % from run to run: how claims and outcomes fall into groups depends on timing).
# Usage: scripts/bench-instructions.sh BINARY...   (needs valgrind and gcc)
set -euo pipefail
cd "$(dirname "$0")/.."
work=.build-bench
store=$work/store-100000.sqlite
mkdir -p "$work"
[ -f "$store" ] || "$1" demo-data --orders 100000 --source "sqlite:$store"
shim=$work/valgrind-sigsuspend.so
if [ ! -f "$shim" ]; then
  printf '%s\n' '#include <signal.h>' '#include <sys/syscall.h>' '#include <unistd.h>' \
    'int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return syscall(SYS_rt_sigsuspend, &copy, 8); }' \
    | gcc -O2 -shared -fPIC -x c -o "$shim" -
fi
cols="id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # name, callgrind output: prints "name total libcrypto"
  callgrind_annotate --threshold=100 --show-percs=no "$2" 2>/dev/null | awk -v name="$1" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
    /\[.*libcrypto[^]]*\]$/ { gsub(",", "", $1); crypto += $1 }
    END { printf "%s %d %d\n", name, total, crypto }'
}

valgrind --tool=callgrind --callgrind-out-file="$out/cli" sqlite3 -csv -header "$store" \
  "SELECT $cols FROM orders" > "$out/cli.csv" 2>/dev/null
count "sqlite3 CLI" "$out/cli" > "$out/counts"
# process BINARY STORE OUTPUT REQUEST COPIES: `jobdrop process` of COPIES requests under callgrind.
process() {
  rm -rf "$work/inbox" "$work/spool" "$work/outbox"; mkdir -p "$work/inbox"
  for i in $(seq "$5"); do echo "$4" > "$work/inbox/r-$i.json"; done
  LD_PRELOAD=$(realpath "$shim") valgrind --tool=callgrind --callgrind-out-file="$3" \
    "$1" process --inbox "$work/inbox" --spool "$work/spool" --outbox "$work/outbox" \
    --source "sqlite:$2" --log-level error 2>/dev/null
}
small=$work/store-1000.sqlite
[ -f "$small" ] || "$1" demo-data --orders 1000 --source "sqlite:$small" >/dev/null
n=0
for bin in "$@"; do
  process "$bin" "$store" "$out/build$n" '{"data": {"type": "job", "job_type": "order_export"}}' 1
  count "$bin" "$out/build$n" >> "$out/counts"
  process "$bin" "$small" "$out/small$n" \
    '{"data": {"type": "job", "job_type": "order_export", "filter": "eq(order_number,ORD-00000001)"}}' 200
  count "$bin" "$out/small$n" >> "$out/small"
  n=$((n + 1))
done
rm -rf "$work/inbox" "$work/spool" "$work/outbox"
python3 - "$out/counts" "$out/small" <<'PY'
import sys
rows = [line.rsplit(" ", 2) for line in open(sys.argv[1]).read().splitlines()]
cli = int(rows[0][1]) - int(rows[0][2])
print("full export of 100,000 orders:")
for name, total, crypto in rows:
    own = int(total) - int(crypto)
    print(f"  {name}: {int(total) / 1e6:,.1f} M instructions, {own / 1e6:,.1f} M without libcrypto "
          f"({int(crypto) / 1e6:,.1f} M), ratio {own / cli:.3f}")
print("200 small jobs in one jobdrop process:")
for name, total, _ in (line.rsplit(" ", 2) for line in open(sys.argv[2]).read().splitlines()):
    print(f"  {name}: {int(total) / 1e6:,.1f} M instructions, {int(total) / 200e3:,.0f} k a job")
PY
