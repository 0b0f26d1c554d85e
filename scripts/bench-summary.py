#!/usr/bin/env python3
"""Summarises a benchmark results file (lines of `name seconds peak-KB`): median, min and max seconds and
peak RSS per command, then jobdrop's ratio to each named baseline.

Usage: bench-summary.py RESULTS BASELINE [BASELINE…]   e.g. bench-summary.py r.txt sqlite3 (compares
jobdrop-full with sqlite3-full and jobdrop-filtered with sqlite3-filtered)
"""
import collections
import statistics
import sys

data = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, seconds, kb = line.split()
    data[name].append((float(seconds), int(kb)))
print(f"{'command':<20} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MiB':>13}")
for name, values in data.items():
    secs = [v[0] for v in values]
    print(f"{name:<20} {statistics.median(secs):>9.2f} {min(secs):>7.2f} {max(secs):>7.2f} "
          f"{max(v[1] for v in values) / 1024:>13.1f}")
for baseline in sys.argv[2:]:
    for kind in ("full", "filtered", "filtered-by-id"):
        ours, theirs = data.get(f"jobdrop-{kind}"), data.get(f"{baseline}-{kind}")
        if ours and theirs:
            ratio = statistics.median(v[0] for v in ours) / statistics.median(v[0] for v in theirs)
            print(f"jobdrop / {baseline} ({kind}): {ratio:.2f}")
