#!/usr/bin/env bash
# The daemon's CPU time per lone small job (user + system, every thread: `perf stat -e task-clock`, which
# works where the VM has no hardware counters), for several builds alternately: each build runs
# `jobdrop run` on a 1,000-order store and gets DROPS requests (the daemon benchmark's: one order by
# number) renamed into its inbox 20 ms apart. The folders go under DIR (default /dev/shm, which leaves
# the disk's noise out: what is measured is the work and the threads' hand-overs).
# Usage: scripts/bench-lone-cpu.sh ROUNDS DROPS BINARY...   (needs perf: scripts/install-deps.sh bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1 drops=$2
shift 2
dir=${DIR:-/dev/shm}
store=.build-bench/store-1000.sqlite
mkdir -p .build-bench
[ -f "$store" ] || "$1" demo-data --orders 1000 --source "sqlite:$store" >/dev/null
for round in $(seq "$rounds"); do
  for bin in "$@"; do
    work=$(mktemp -d "$dir/jobdrop-lone-cpu.XXXX")
    mkdir -p "$work/inbox"
    cp "$store" "$work/store.sqlite"
    "$bin" run --inbox "$work/inbox" --spool "$work/spool" --outbox "$work/outbox" \
      --source "sqlite:$work/store.sqlite" --log-level warning 2>"$work/log" &
    daemon=$!
    while [ ! -f "$work/outbox/index.json" ]; do sleep 0.05; done
    sleep 0.5
    perf stat -e task-clock,context-switches -p "$daemon" -o "$work/stat.txt" &
    stat=$!
    sleep 0.3
    python3 - "$work" "$drops" <<'PY'
import os, sys, time
work, drops = sys.argv[1], int(sys.argv[2])
request = b'{"data": {"type": "job", "job_type": "order_export", "filter": "eq(order_number,ORD-00000001)"}}'
for i in range(drops):
    staged = f"{work}/r{i}.json"
    with open(staged, "wb") as f:
        f.write(request)
    os.rename(staged, f"{work}/inbox/r{i}.json")
    time.sleep(0.02)
PY
    while [ "$(ls "$work/spool/success" | wc -l)" -lt "$drops" ]; do sleep 0.05; done
    sleep 0.2
    kill -INT "$stat"; wait "$stat" || true
    kill "$daemon"; wait "$daemon" || true
    awk -v n="$drops" -v bin="$bin" '
      /task-clock/ { gsub(",", "", $1); cpu = $1 / n }
      /context-switches/ { gsub(",", "", $1); switches = $1 / n }
      END { printf "%s: %.3f ms CPU, %.1f context switches a job\n", bin, cpu, switches }' "$work/stat.txt"
    rm -rf "$work"
  done
done
