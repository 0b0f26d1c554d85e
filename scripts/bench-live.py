#!/usr/bin/env python3
"""Memory with many live jobs, and the head of a backlog (issue 19's items 4).

    python3 scripts/bench-live.py [--live 2000,20000,100000] [--backlog 20000]

--live N: fabricates N finished jobs in a spool (as bench-daemon.py does), starts `jobdrop run` on it,
          and prints the process's peak and current RSS once index.json is written, and the index size;
          then drops --drops requests one at a time and prints drop -> index.json says success (p50, p95).
--backlog N: puts N small requests into the inbox (then `sync`), starts `jobdrop run`, and prints when
          the first job reached success, how many had 5 s later, and the process's RSS then.
Uses .build/release/jobdrop (or JOBDROP_BIN); works in .build-bench/.
"""
import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("JOBDROP_BIN", os.path.join(HERE, "..", ".build", "release", "jobdrop"))
WORK = os.path.join(HERE, "..", ".build-bench")


def daemon_bench():
    spec = importlib.util.spec_from_file_location("bench_daemon", os.path.join(HERE, "bench-daemon.py"))
    module = importlib.util.module_from_spec(spec)
    arguments, sys.argv = sys.argv, [sys.argv[0]]
    spec.loader.exec_module(module)
    sys.argv = arguments
    return module


def run(work):
    inbox, outbox, spool = (os.path.join(work, d) for d in ("inbox", "outbox", "spool"))
    return subprocess.Popen([BIN, "run", "--inbox", inbox, "--spool", spool, "--outbox", outbox,
                             "--source", "sqlite:" + os.path.join(work, "store.sqlite"), "--log-level", "error"])


def live(count):
    work = os.path.join(WORK, f"live-memory-{count}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "inbox"))
    daemon_bench().fabricate(work, count)
    subprocess.run([BIN, "demo-data", "--orders", "1000", "--source", "sqlite:" + os.path.join(work, "store.sqlite")],
                   check=True, capture_output=True)
    started = time.perf_counter()
    daemon = run(work)
    index = os.path.join(work, "outbox", "index.json")
    while not os.path.exists(index):
        time.sleep(0.05)
    recovered = time.perf_counter() - started
    time.sleep(1)
    status = dict(line.split(":", 1) for line in open(f"/proc/{daemon.pid}/status") if ":" in line)
    print(f"{count} live jobs: started in {recovered:.1f} s; peak RSS {status['VmHWM'].strip()}, "
          f"RSS {status['VmRSS'].strip()}; index.json {os.path.getsize(index) / 1e6:.1f} MB")
    if options.drops:
        p50, p95 = index_latency(work, options.drops)
        print(f"{count} live jobs: drop -> index.json says success p50 {p50:.1f} ms, p95 {p95:.1f} ms "
              f"({options.drops} drops)")
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()


def index_latency(work, drops):
    """drop -> index.json lists the request's job as success (ms, p50 and p95), one drop at a time. The
    index lists the newest job first, so only its head is read: a large index is never parsed whole."""
    bench = daemon_bench()
    inbox, outbox = os.path.join(work, "inbox"), os.path.join(work, "outbox")
    watch = bench.Watch(outbox, bench.IN_MOVED_TO)
    latencies = []
    for i in range(drops):
        name = f"lat-{i}.json"
        start = bench.drop(inbox, name)
        while True:
            if not any(n == "index.json" for n in watch.names()):
                continue
            now = time.perf_counter()
            with open(os.path.join(outbox, "index.json")) as f:
                head = f.read(1 << 14)
            try:
                newest, _ = json.JSONDecoder().raw_decode(head, head.index("[") + 1)
            except ValueError:
                continue
            if newest["meta"]["request"]["file"] == name and newest["status"] == "success":
                latencies.append((now - start) * 1000)
                break
            if newest["meta"]["request"]["file"] == name and newest["status"] == "failed":
                sys.exit(f"{name} failed: {newest.get('error')}")
    return bench.percentiles(latencies)


def backlog(count):
    work = os.path.join(WORK, "backlog")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "inbox"))
    subprocess.run([BIN, "demo-data", "--orders", "2000", "--source", "sqlite:" + os.path.join(work, "store.sqlite")],
                   check=True, capture_output=True)
    for i in range(count):
        with open(os.path.join(work, "inbox", f"r{i}.json"), "w") as f:
            f.write('{"data": {"type": "job", "job_type": "order_export", "filter": "eq(order_number,ORD-00000001)"}}')
    # A backlog that built up while jobdrop was down has long been written back; these files were written
    # just now, and the first commit's syncfs would otherwise spend its time flushing them.
    os.sync()
    started = time.perf_counter()
    daemon = run(work)
    success = os.path.join(work, "spool", "success")
    first = None
    while time.perf_counter() - started < 120:
        if os.path.isdir(success) and os.listdir(success):
            first = time.perf_counter() - started
            break
        time.sleep(0.01)
    time.sleep(5)
    done = len(os.listdir(success))
    status = dict(line.split(":", 1) for line in open(f"/proc/{daemon.pid}/status") if ":" in line)
    print(f"backlog of {count}: first success after {first:.2f} s; {done} done 5 s later; "
          f"peak RSS {status['VmHWM'].strip()}, RSS {status['VmRSS'].strip()}" if first
          else f"backlog of {count}: no success within 120 s")
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()


parser = argparse.ArgumentParser()
parser.add_argument("--live", default="2000,20000,100000")
parser.add_argument("--backlog", type=int, default=20000)
parser.add_argument("--drops", type=int, default=20)
options = parser.parse_args()
for count in [int(c) for c in options.live.split(",") if c]:
    live(count)
if options.backlog:
    backlog(options.backlog)
