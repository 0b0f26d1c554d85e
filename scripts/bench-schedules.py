#!/usr/bin/env python3
"""What standing requests cost (issue 36's performance goals).

    python3 scripts/bench-schedules.py [--idle 1000] [--busy 50] [--seconds 20]

1. Idle: `jobdrop run`'s CPU time over 10 s with no schedule, then over 10 s with --idle schedules
   (`every: 1h`, none due): a schedule costs nothing between its runs (its next time is a timer).
2. Lateness: --busy schedules `every: 2s` (with a window on updated_at, lag 0) for --seconds; each run's
   lateness is its job's created_at minus the scheduled time it was made for (created_at of the
   schedule + k × 2 s); prints p50, p99 and the maximum, with the --idle schedules still registered.
Uses .build/release/jobdrop (or JOBDROP_BIN); works in /dev/shm (or JOBDROP_BENCH_WORK).
"""
import argparse
import datetime
import glob
import json
import os
import shutil
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("JOBDROP_BIN", os.path.join(HERE, "..", ".build", "release", "jobdrop"))
WORK = os.path.join(os.environ.get("JOBDROP_BENCH_WORK", "/dev/shm"), "jobdrop-bench-schedules")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def drop(inbox, name, text):
    path = os.path.join(inbox, name)
    with open(path + ".part", "w") as handle:
        handle.write(text)
    os.rename(path + ".part", path)


def wait_for(condition, limit=120):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--busy", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    options = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    inbox, outbox, spool = (os.path.join(WORK, d) for d in ("inbox", "outbox", "spool"))
    os.makedirs(inbox)
    store = os.path.join(WORK, "store.sqlite")
    subprocess.run([BIN, "demo-data", "--orders", "2000", "--source", "sqlite:" + store], check=True,
                   capture_output=True)
    daemon = subprocess.Popen([BIN, "run", "--inbox", inbox, "--spool", spool, "--outbox", outbox, "--grace", "0",
                               "--source", "sqlite:" + store, "--log-level", "error"])
    try:
        wait_for(lambda: os.path.exists(os.path.join(outbox, "index.json")))
        time.sleep(1)
        before = cpu_seconds(daemon.pid)
        time.sleep(10)
        baseline = cpu_seconds(daemon.pid) - before
        request = '{"data": {"type": "job", "job_type": "order_export", "schedule": {"every": "1h"}}}'
        for number in range(options.idle):
            drop(inbox, f"idle-{number:05}.json", request)
        schedules = os.path.join(spool, "schedules")
        wait_for(lambda: len(os.listdir(schedules)) >= options.idle and not os.listdir(inbox))
        time.sleep(1)
        before = cpu_seconds(daemon.pid)
        time.sleep(10)
        idle = cpu_seconds(daemon.pid) - before
        print(f"idle CPU over 10 s: {baseline:.2f} s with no schedule, {idle:.2f} s with {options.idle} schedules")

        busy = ('{"data": {"type": "job", "job_type": "order_export", "schedule": {"every": "2s"}, '
                '"window": {"field": "updated_at", "lag": "0"}}}')
        for number in range(options.busy):
            drop(inbox, f"busy-{number:03}.json", busy)
        wait_for(lambda: len(os.listdir(schedules)) >= options.idle + options.busy)
        time.sleep(options.seconds)
    finally:
        daemon.terminate()
        daemon.wait()
    created = {}
    for path in glob.glob(os.path.join(outbox, "schedules", "*.json")):
        schedule = json.load(open(path))["data"]
        if schedule["meta"]["request"]["file"].startswith("busy-"):
            created[schedule["id"]] = parse(schedule["timestamps"]["created_at"])
    lateness = []
    for path in glob.glob(os.path.join(outbox, "jobs", "*.json")):
        job = json.load(open(path))["data"]
        schedule = job["meta"].get("schedule")
        if schedule not in created:
            continue
        made = parse(job["timestamps"]["created_at"])
        periods = int((made - created[schedule]) // 2)
        lateness.append((made - (created[schedule] + periods * 2)) * 1000)
    lateness.sort()
    p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
    print(f"{len(lateness)} runs of {options.busy} schedules every 2 s (with {options.idle} idle ones): "
          f"lateness p50 {statistics.median(lateness):.1f} ms, p99 {p99:.1f} ms, max {lateness[-1]:.1f} ms")


if __name__ == "__main__":
    main()
