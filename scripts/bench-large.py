#!/usr/bin/env python3
"""Results of any size (issue 37's goals), in one run on this machine.

    python3 scripts/bench-large.py [--runs 3] [--skip-split] [--skip-s3]

1. Formats: `jobdrop process` of 1,000,000 orders as csv, csv.gz, csv.zst and parquet (median wall
   of --runs, interleaved), each as a ratio to plain csv, next to its peer reading the same SQLite
   store: `sqlite3 -csv | gzip`, `sqlite3 -csv | zstd -T0`, and pyarrow's Parquet writer (Zstandard) on
   the sqlite3 CLI's CSV (DuckDB's sqlite extension is downloaded at first use, which this machine
   cannot do).
2. Split: 10,000,000 rows (a generated job type of eight columns) into parts of 1,000,000: peak RSS,
   and the manifest's rows and bytes against the sums of the parts.
3. Multipart: a ~330 MB export (1,000,000 orders as jsonl) published to moto's S3 with
   --s3-part-size 5MiB: byte-equal in the bucket, and the daemon's peak RSS next to the same job
   without publishing.
Uses .build/release/jobdrop (or JOBDROP_BIN) and the stores bench-export.sh caches in .build-bench/.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
BIN = os.environ.get("JOBDROP_BIN", os.path.join(ROOT, ".build", "release", "jobdrop"))
WORK = os.path.join(ROOT, ".build-bench", "large")
STORE = os.path.join(ROOT, ".build-bench", "store-1000000.sqlite")
COLS = ("id,order_number,external_ref,status,payment,shipping,customer_id,name,email,currency,with_tax,"
        "without_tax,tax,item_count,shipping_postcode,billing_postcode,shipping_country,created_at,updated_at")


def timed(command, shell=False):
    """(wall seconds, peak RSS KiB) of a command (through /usr/bin/time)."""
    wrapped = ["/usr/bin/time", "-f", "%e %M"] + (["bash", "-c", command] if shell else command)
    result = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    wall, rss = result.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss)


def jobdrop_export(request, extra=()):
    """Runs `jobdrop process` on one request; returns (wall, rss, outbox)."""
    shutil.rmtree(WORK, ignore_errors=True)
    inbox = os.path.join(WORK, "inbox")
    os.makedirs(inbox)
    with open(os.path.join(inbox, "r.json"), "w") as handle:
        json.dump({"data": dict({"type": "job", "job_type": "order_export"}, **request)}, handle)
    outbox = os.path.join(WORK, "outbox")
    wall, rss = timed([BIN, "process", "--inbox", inbox, "--spool", os.path.join(WORK, "spool"), "--outbox",
                       outbox, "--source", "sqlite:" + STORE, "--log-level", "error", *extra])
    return wall, rss, outbox


def formats(runs):
    peers = {
        "csv.gz": f"sqlite3 -csv -header {STORE} 'SELECT {COLS} FROM orders' | gzip > {WORK}-peer",
        "csv.zst": f"sqlite3 -csv -header {STORE} 'SELECT {COLS} FROM orders' | zstd -q -T0 > {WORK}-peer",
        "parquet": (f"sqlite3 -csv -header {STORE} 'SELECT {COLS} FROM orders' > {WORK}-peer.csv && python3 -c "
                    f"\"import pyarrow.csv as c, pyarrow.parquet as p; "
                    f"p.write_table(c.read_csv('{WORK}-peer.csv'), '{WORK}-peer', compression='zstd')\""),
    }
    walls = {}
    for _ in range(runs):
        for form in ("csv", "csv.gz", "csv.zst", "parquet"):
            wall, rss, _ = jobdrop_export({"format": form})
            walls.setdefault(form, []).append((wall, rss))
        for form, command in peers.items():
            wall, rss = timed(command, shell=True)
            walls.setdefault("peer " + form, []).append((wall, rss))
    for leftover in (WORK + "-peer", WORK + "-peer.csv"):
        if os.path.exists(leftover):
            os.remove(leftover)
    csv = statistics.median(w for w, _ in walls["csv"])
    print(f"formats: 1,000,000 orders, {os.cpu_count()} cores, median of {runs} (wall s, peak RSS MiB, ratio to csv)")
    print("| export | jobdrop wall | RSS | ratio to csv | peer wall | peer |")
    print("|---|---:|---:|---:|---:|---|")
    names = {"csv.gz": "sqlite3 -csv \\| gzip", "csv.zst": "sqlite3 -csv \\| zstd -T0",
             "parquet": "sqlite3 -csv, pyarrow write_table (zstd)"}
    for form in ("csv", "csv.gz", "csv.zst", "parquet"):
        wall = statistics.median(w for w, _ in walls[form])
        rss = max(r for _, r in walls[form]) / 1024
        peer = statistics.median(w for w, _ in walls["peer " + form]) if form != "csv" else None
        print(f"| {form} | {wall:.2f} | {rss:.0f} | {wall / csv:.2f} | "
              f"{'' if peer is None else f'{peer:.2f}'} | {names.get(form, '')} |")


def split():
    catalog = os.path.join(ROOT, ".build-bench", "numbers-catalog.json")
    with open(catalog, "w") as handle:
        json.dump({"job_types": [{"name": "numbers", "summary": "Generated rows.", "source":
                   "(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000000) "
                   "SELECT x AS n, x * 7 AS seven, 'order-' || x AS label, x % 13 AS bucket, "
                   "printf('%08d', x) AS padded, x * 3 AS three, 'EUR' AS currency, "
                   "'2026-01-01T00:00:00Z' AS at FROM n) AS numbers",
                   "columns": [{"name": name, "type": kind} for name, kind in [
                       ("n", "integer"), ("seven", "integer"), ("label", "text"), ("bucket", "integer"),
                       ("padded", "text"), ("three", "money"), ("currency", "text"), ("at", "timestamp")]],
                   "fields": []}]}, handle)
    shutil.rmtree(WORK, ignore_errors=True)
    inbox = os.path.join(WORK, "inbox")
    os.makedirs(inbox)
    with open(os.path.join(inbox, "r.json"), "w") as handle:
        json.dump({"data": {"type": "job", "job_type": "numbers", "split": {"rows": 1000000}}}, handle)
    outbox = os.path.join(WORK, "outbox")
    wall, rss = timed([BIN, "process", "--inbox", inbox, "--spool", os.path.join(WORK, "spool"), "--outbox",
                       outbox, "--source", "sqlite:" + STORE, "--catalog", catalog, "--log-level", "error"])
    folder = os.path.join(outbox, "files", os.listdir(os.path.join(outbox, "files"))[0])
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    sizes = sum(os.path.getsize(os.path.join(folder, p["href"].rsplit("/", 1)[1])) for p in manifest["parts"])
    print(f"split: 10,000,000 rows into {len(manifest['parts'])} parts of 1,000,000: wall {wall:.1f} s, "
          f"peak RSS {rss / 1024:.0f} MiB; manifest rows {manifest['rows']:,} "
          f"(parts {sum(p['rows'] for p in manifest['parts']):,}), bytes {manifest['bytes']:,} "
          f"(files {sizes:,}), complete {manifest['complete']}")


def multipart():
    port = 39000 + os.getpid() % 1000
    folder = os.path.join(ROOT, ".build-bench", "moto")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    credentials = os.path.join(folder, "credentials")
    moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Publishing", "bucket.py"), "serve",
                             str(port), "jobdrop-bench", credentials], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=folder)
    try:
        moto.stdout.readline()
        key, secret = open(credentials).read().split()
        environment = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1")
        import boto3
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id=key, aws_secret_access_key=secret)

        def in_bucket(name):
            try:
                return s3.head_object(Bucket="jobdrop-bench", Key="on/" + name)
            except Exception:
                return None

        results = {}
        for publish in (False, True):
            shutil.rmtree(WORK, ignore_errors=True)
            inbox, outbox, spool = (os.path.join(WORK, d) for d in ("inbox", "outbox", "spool"))
            os.makedirs(inbox)
            extra = ["--publish", "s3://jobdrop-bench/" + ("on" if publish else "off"), "--s3-endpoint",
                     f"http://127.0.0.1:{port}", "--s3-part-size", "5MiB"] if publish else []
            daemon = subprocess.Popen([BIN, "run", "--inbox", inbox, "--spool", spool, "--outbox", outbox,
                                       "--source", "sqlite:" + STORE, "--log-level", "error", *extra],
                                      env=environment)
            with open(os.path.join(inbox, "r.json.part"), "w") as handle:
                json.dump({"data": {"type": "job", "job_type": "order_export", "format": "jsonl"}}, handle)
            os.rename(os.path.join(inbox, "r.json.part"), os.path.join(inbox, "r.json"))
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    jobs = json.load(open(os.path.join(outbox, "index.json")))["data"]
                except (OSError, ValueError):
                    continue
                if not jobs or jobs[0]["status"] != "success":
                    continue
                if not publish:
                    break
                try:
                    status = json.load(open(os.path.join(spool, "publishing.json")))
                except (OSError, ValueError):
                    continue
                if status.get("waiting") == 0 and status.get("resynced") and in_bucket(jobs[0]["link"]["href"]):
                    break
            rss = int([line for line in open(f"/proc/{daemon.pid}/status") if line.startswith("VmHWM")][0].split()[1])
            daemon.send_signal(signal.SIGTERM)
            daemon.wait()
            results[publish] = rss
            if publish:
                job = jobs[0]
                path = os.path.join(outbox, job["link"]["href"])
                head = in_bucket(job["link"]["href"])
                body = hashlib.sha256()
                for chunk in s3.get_object(Bucket="jobdrop-bench", Key="on/" + job["link"]["href"])["Body"].iter_chunks(1 << 20):
                    body.update(chunk)
                equal = body.hexdigest() == job["meta"]["sha256"]
                unfinished = len(s3.list_multipart_uploads(Bucket="jobdrop-bench").get("Uploads", []))
                size = os.path.getsize(path)
        print(f"multipart: {size / 1e6:.0f} MB in parts of 5 MiB (ETag {head['ETag']}): byte-equal {equal}, "
              f"unfinished uploads {unfinished}; daemon peak RSS {results[True] / 1024:.0f} MiB publishing, "
              f"{results[False] / 1024:.0f} MiB without")
    finally:
        moto.kill()
        moto.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-split", action="store_true")
    parser.add_argument("--skip-s3", action="store_true")
    options = parser.parse_args()
    if not os.path.exists(STORE):
        subprocess.run([BIN, "demo-data", "--orders", "1000000", "--source", "sqlite:" + STORE], check=True)
    formats(options.runs)
    if not options.skip_split:
        split()
    if not options.skip_s3:
        multipart()


if __name__ == "__main__":
    main()
