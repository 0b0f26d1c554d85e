#!/usr/bin/env python3
"""Delivery into a partner's SFTP server (issue 38's goals), in one run on this machine.

    python3 scripts/bench-delivery.py [--runs 3] [--megabytes 1000] [--files 1000]

A real OpenSSH sshd on 127.0.0.1 (its own host key and authorized key in a temp folder) receives:
1. One large file: `jobdrop process --deliver sftp://…` of a generated job type whose CSV is about
   --megabytes MB. The delivery's time runs from the "job succeeded" log line to "export delivered"
   (both stamped as they arrive); it is set against `sftp -b` putting the same file into the same
   folder (OpenSSH's own client, default buffers), median of --runs each, alternately.
2. Many small files: --files requests of a few rows in one `jobdrop process` (one partner: one lane,
   one connection); deliveries per second from the last "job succeeded" to the last "export delivered".
Every delivered file is compared (size and SHA-256) with the export.
Uses .build/release/jobdrop (or JOBDROP_BIN) and the store bench-export.sh caches in .build-bench/.
"""
import argparse
import getpass
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
BIN = os.environ.get("JOBDROP_BIN", os.path.join(ROOT, ".build", "release", "jobdrop"))
WORK = os.path.join(ROOT, ".build-bench", "delivery")
STORE = os.path.join(ROOT, ".build-bench", "store-1000.sqlite")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SSHServer:
    """sshd -D on 127.0.0.1 with keys made in `folder`."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder)
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(folder, key)], check=True)
        shutil.copy(os.path.join(folder, "client_key.pub"), os.path.join(folder, "authorized_keys"))
        os.makedirs("/run/sshd", exist_ok=True)
        self.port = free_port()
        with open(os.path.join(folder, "sshd_config"), "w") as config:
            config.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {folder}/host_key\n"
                         f"PidFile {folder}/sshd.pid\nAuthorizedKeysFile {folder}/authorized_keys\n"
                         "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                         "PermitRootLogin yes\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n")
        self.process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(folder, "sshd_config")],
                                        stderr=open(os.path.join(folder, "sshd.log"), "w"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.host_key = open(os.path.join(folder, "host_key.pub")).read().strip()
        self.client_key = os.path.join(folder, "client_key")

    def put(self, path, folder, name):
        """Seconds `sftp` takes to put `path` as folder/name."""
        batch = os.path.join(self.folder, "batch")
        with open(batch, "w") as handle:
            handle.write(f"put {path} {folder}/{name}\n")
        started = time.monotonic()
        subprocess.run(["sftp", "-q", "-b", batch, "-P", str(self.port), "-i", self.client_key,
                        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                        "-o", "LogLevel=ERROR", f"{getpass.getuser()}@127.0.0.1"], check=True,
                       stdout=subprocess.DEVNULL)
        return time.monotonic() - started

    def stop(self):
        self.process.kill()
        self.process.wait()


def digest(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def deliver(server, received, requests, catalog=None):
    """`jobdrop process` of `requests` (name → request) delivering into `received`; returns
    (seconds from the last "job succeeded" to the last "export delivered", delivered count, outbox)."""
    run = os.path.join(WORK, "run")
    shutil.rmtree(run, ignore_errors=True)
    inbox, outbox = os.path.join(run, "inbox"), os.path.join(run, "outbox")
    os.makedirs(inbox)
    for name, request in requests.items():
        with open(os.path.join(inbox, name), "w") as handle:
            json.dump({"data": dict({"type": "job"}, **request)}, handle)
    command = [BIN, "process", "--inbox", inbox, "--spool", os.path.join(run, "spool"), "--outbox", outbox,
               "--source", "sqlite:" + STORE, "--log-level", "info",
               "--deliver", f"sftp://{getpass.getuser()}@127.0.0.1:{server.port}{received}",
               "--deliver-host-key", server.host_key, "--deliver-private-key-file", server.client_key]
    if catalog:
        command += ["--catalog", catalog]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    succeeded = delivered = None
    count = 0
    for line in process.stderr:
        if line.rstrip().endswith("job succeeded"):
            succeeded = time.monotonic()
        elif line.rstrip().endswith("export delivered"):
            delivered = time.monotonic()
            count += 1
        elif " error " in line or " warning " in line:
            sys.stderr.write(line)
    if process.wait() != 0 or succeeded is None or delivered is None:
        sys.exit("jobdrop process did not deliver")
    return delivered - succeeded, count, outbox


def large(server, runs, megabytes):
    received = os.path.join(WORK, "received-large")
    catalog = os.path.join(WORK, "wide-catalog.json")
    # Rows of about 250 bytes: a generated job type, no store needed.
    rows = megabytes * 1_000_000 // 250
    with open(catalog, "w") as handle:
        json.dump({"job_types": [{"name": "wide", "summary": "Generated rows.", "source":
                   f"(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {rows}) "
                   "SELECT x AS n, printf('%0220d', x * 7919) AS payload, 'EUR' AS currency FROM n) AS wide",
                   "columns": [{"name": "n", "type": "integer"}, {"name": "payload", "type": "text"},
                               {"name": "currency", "type": "text"}], "fields": []}]}, handle)
    ours, theirs = [], []
    for run in range(runs):
        shutil.rmtree(received, ignore_errors=True)
        os.makedirs(received)
        seconds, count, outbox = deliver(server, received, {"large.json": {"job_type": "wide"}}, catalog)
        job = json.load(open(os.path.join(outbox, "index.json")))["data"][0]
        name = job["link"]["href"].rsplit("/", 1)[1]
        path = os.path.join(outbox, "files", job["id"], name)
        size = os.path.getsize(path)
        arrived = os.path.join(received, f"{job['id']}-{name}")
        if count != 1 or os.path.getsize(arrived) != size or digest(arrived) != job["meta"]["sha256"]:
            sys.exit("the delivered file differs from the export")
        os.remove(arrived)
        ours.append(seconds)
        theirs.append(server.put(path, received, "put-" + name))
    mine, peer = statistics.median(ours), statistics.median(theirs)
    print(f"large: {size / 1e6:,.0f} MB, median of {runs}: jobdrop {mine:.2f} s ({size / mine / 1e6:,.0f} MB/s), "
          f"sftp put {peer:.2f} s ({size / peer / 1e6:,.0f} MB/s): {peer / mine:.0%} of sftp put's throughput "
          f"(goal >= 50%); byte-equal")


def small(server, files):
    received = os.path.join(WORK, "received-small")
    os.makedirs(received)
    requests = {f"r{index:04d}.json": {"job_type": "order_export", "filter": f"eq(order_number,ORD-{1 + index % 1000:08d})"}
                for index in range(files)}
    seconds, count, outbox = deliver(server, received, requests)
    jobs = json.load(open(os.path.join(outbox, "index.json")))["data"]
    for job in jobs:
        name = job["link"]["href"].rsplit("/", 1)[1]
        if digest(os.path.join(received, f"{job['id']}-{name}")) != job["meta"]["sha256"]:
            sys.exit(f"{job['id']}: the delivered file differs from the export")
    if count != files or len(os.listdir(received)) != files:
        sys.exit(f"{count} delivered, {len(os.listdir(received))} received, {files} expected")
    print(f"small: {files:,} deliveries of one row each in {seconds:.2f} s: {files / seconds:,.0f} files/s "
          f"(goal >= 50/s); every file byte-equal, none twice")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    arguments = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    server = SSHServer(os.path.join(WORK, "ssh"))
    try:
        small(server, arguments.files)
        large(server, arguments.runs, arguments.megabytes)
    finally:
        server.stop()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
