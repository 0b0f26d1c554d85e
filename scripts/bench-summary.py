#!/usr/bin/env python3
"""Summarises a benchmark results file (lines of `name seconds peak-KB [user-s system-s]`): median, min
and max wall seconds, median CPU seconds (user + system) and peak RSS per command, then jobdrop's wall
and CPU ratios to each named baseline (medians of the per-run ratios, the runs being interleaved).

Usage: bench-summary.py RESULTS BASELINE [BASELINE…]   e.g. bench-summary.py r.txt sqlite3 (compares
jobdrop-full with sqlite3-full and jobdrop-filtered with sqlite3-filtered)
"""
import collections
import statistics
import sys

data = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, seconds, kb, *cpu = line.split()
    data[name].append((float(seconds), int(kb), sum(float(c) for c in cpu) if cpu else None))
print(f"{'command':<24} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s':>7} {'peak RSS MiB':>13}")
for name, values in data.items():
    secs = [v[0] for v in values]
    cpus = [v[2] for v in values if v[2] is not None]
    cpu = f"{statistics.median(cpus):>7.2f}" if cpus else f"{'':>7}"
    print(f"{name:<24} {statistics.median(secs):>9.2f} {min(secs):>7.2f} {max(secs):>7.2f} {cpu} "
          f"{max(v[1] for v in values) / 1024:>13.1f}")
for baseline in sys.argv[2:]:
    for kind in ("full", "filtered", "filtered-by-id"):
        ours, theirs = data.get(f"jobdrop-{kind}"), data.get(f"{baseline}-{kind}")
        if ours and theirs:
            wall = statistics.median(a[0] / b[0] for a, b in zip(ours, theirs))
            line = f"jobdrop / {baseline} ({kind}): wall {wall:.2f}"
            if ours[0][2] is not None and theirs[0][2] is not None:
                cpu = statistics.median(a[2] / b[2] for a, b in zip(ours, theirs))
                line += f", CPU {cpu:.2f}"
            print(line)
