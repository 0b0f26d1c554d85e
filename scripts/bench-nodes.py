#!/usr/bin/env python3
"""Several nodes on one PostgreSQL spool: burst throughput of 1, 2 and 3 `jobdrop run` nodes (each with its
own inbox, one worker), next to one node on the file spool, and drop -> success latency of one node on
each spool (the claim's cost is the difference).

Usage: scripts/bench-nodes.py [--burst 600] [--drops 40] [--orders 2000] [--runs 2]   (needs .build/release/jobdrop)

Starts its own PostgreSQL 15 on 127.0.0.1 in .build-bench/nodes/ and stops it by its pid.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("JOBDROP_BIN", os.path.join(ROOT, ".build/release/jobdrop"))
PGBIN = "/usr/lib/postgresql/15/bin"
REQUEST = json.dumps({"data": {"type": "job", "job_type": "order_export", "filter": "eq(order_number,ORD-00000001)"}})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres():
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] if os.getuid() == 0 else []


class Postgres:
    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "pwfile"), "w") as f:
            f.write("bench\n")
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(os.path.join(self.dir, "pwfile"), 0o644)
        subprocess.run(as_postgres() + [PGBIN + "/initdb", "-D", self.dir + "/data", "-U", "jobdrop",
                                         "--pwfile=" + self.dir + "/pwfile", "--auth-host=scram-sha-256"],
                       check=True, stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.process = subprocess.Popen(as_postgres() + [PGBIN + "/postgres", "-D", self.dir + "/data", "-k", self.dir,
                                                          "-c", "listen_addresses=127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=open(os.environ.get("PGLOG", os.devnull), "w"))
        self.url = f"postgres://jobdrop:bench@127.0.0.1:{self.port}/postgres"
        for _ in range(300):
            if subprocess.run([PGBIN + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("postgres did not start")

    def sql(self, query):
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", self.url, "-c", query], check=True,
                             capture_output=True, text=True).stdout
        return out.strip()

    def reset(self):
        """Drops every table a node made (a fresh shared spool; its format row too, else it is not made again)."""
        self.sql("DROP TABLE IF EXISTS jobdrop_jobs, jobdrop_schedules, jobdrop_schema; "
                 "DROP SEQUENCE IF EXISTS jobdrop_change")

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        self.process.wait()


def cpu_seconds(pid, children=False):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return used / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(postgres):
    """The PostgreSQL server's CPU: the postmaster, its live backends, and those that have ended."""
    if postgres is None:
        return 0.0
    total = cpu_seconds(postgres.process.pid, children=True)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postgres.process.pid:
                        total += cpu_seconds(int(entry))
            except (OSError, ValueError):
                pass
    return total


def start_node(work, name, store, spool):
    root = os.path.join(work, name)
    for d in ("inbox", "outbox"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    args = [BIN, "run", "--inbox", root + "/inbox", "--outbox", root + "/outbox", "--source", "sqlite:" + store,
            "--log-level", "error", "--grace", "0"]
    args += ["--spool", spool, "--local-spool", root + "/spool"] if spool.startswith("postgres") else ["--spool", root + "/spool"]
    # Progress is read from each node's metrics (one small HTTP request), the same for both spools:
    # no client of the database or reader of the outbox competing for the two cores.
    port = free_port()
    args += ["--metrics-listen", f"127.0.0.1:{port}"]
    node = subprocess.Popen(args)
    node.metrics = f"http://127.0.0.1:{port}/metrics"
    # Up once its outbox has its first index (the node rendering it) or its spool folder exists.
    for _ in range(300):
        if os.path.exists(root + "/spool/pending") or os.path.exists(root + "/spool/.lock") or os.path.exists(root + "/outbox/jobs"):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return node, root


def burst(roots, count):
    """Renames `count` requests into the inboxes, round robin, as fast as it can; returns the start time."""
    staged = []
    for i in range(count):
        root = roots[i % len(roots)]
        tmp = os.path.join(root, f".b-{i}.json")
        with open(tmp, "w") as f:
            f.write(REQUEST)
        staged.append((tmp, os.path.join(root, "inbox", f"b-{i}.json")))
    start = time.perf_counter()
    for tmp, final in staged:
        os.rename(tmp, final)
    return start


def succeeded(node):
    """The jobs `node` took to success since it started (`jobdrop_jobs_total{status="success"}`)."""
    try:
        with urllib.request.urlopen(node.metrics, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("jobdrop_jobs_total{") and 'status="success"' in line)


def throughput(work, store, spool, nodes, count, postgres):
    if postgres:
        postgres.reset()
    run = len(os.listdir(work))  # fresh folders for every run
    started = [start_node(work, f"{'pg' if postgres else 'file'}-{nodes}-{n}-{run}", store, spool) for n in range(nodes)]
    roots = [root for _, root in started]
    cpu_before = sum(cpu_seconds(p.pid) for p, _ in started)
    server_before = server_cpu_seconds(postgres)
    start = burst(roots, count)
    while sum(succeeded(node) for node, _ in started) < count:
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    cpu = sum(cpu_seconds(p.pid) for p, _ in started) - cpu_before
    server = server_cpu_seconds(postgres) - server_before
    for p, _ in started:
        p.send_signal(signal.SIGTERM)
        p.wait()
    return elapsed, cpu, server


def latency(work, store, spool, drops, postgres):
    if postgres:
        postgres.reset()
    node, root = start_node(work, f"lat-{'pg' if postgres else 'file'}", store, spool)
    import select, ctypes, struct
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.inotify_init1(0)
    libc.inotify_add_watch(fd, (root + "/outbox/jobs").encode(), 0x80)
    values, claims = [], []
    for i in range(drops):
        name = f"lat-{i}.json"
        tmp = os.path.join(root, "." + name)
        with open(tmp, "w") as f:
            f.write(REQUEST)
        start = time.perf_counter()
        os.rename(tmp, os.path.join(root, "inbox", name))
        seen = claimed = None
        while seen is None:
            select.select([fd], [], [])
            now = time.perf_counter()
            data = os.read(fd, 1 << 16)
            j = 0
            while j < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, j)
                doc = data[j + 16:j + 16 + length].rstrip(b"\0").decode()
                j += 16 + length
                if doc.startswith(".") or not doc.endswith(".json"):
                    continue
                try:
                    job = json.load(open(os.path.join(root, "outbox", "jobs", doc)))["data"]
                except (OSError, ValueError):
                    continue
                if job["meta"]["request"]["file"] != name:
                    continue
                if claimed is None:
                    claimed = (now - start) * 1000  # its first document: the claim is durable
                if job["status"] == "success":
                    seen = (now - start) * 1000
        values.append(seen)
        claims.append(claimed)
    node.send_signal(signal.SIGTERM)
    node.wait()
    values.sort()
    claims.sort()
    return (statistics.median(claims), claims[int(len(claims) * 0.95) - 1],
            statistics.median(values), values[int(len(values) * 0.95) - 1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--drops", type=int, default=40)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=2)
    options = parser.parse_args()
    work = tempfile.mkdtemp(prefix="jobdrop-nodes-", dir=os.path.join(ROOT, ".build-bench") if os.path.isdir(os.path.join(ROOT, ".build-bench")) else None)
    os.chmod(work, 0o755)  # postgres (its own user when run as root) must reach its folder
    try:
        store = os.path.join(work, "store.sqlite")
        subprocess.run([BIN, "demo-data", "--orders", str(options.orders), "--source", "sqlite:" + store], check=True,
                       stdout=subprocess.DEVNULL)
        postgres = Postgres(work)
        print(f"nodes bench: burst of {options.burst} small jobs, one worker per node, best of {options.runs} runs; {os.cpu_count()} cores; "
              f"{time.strftime('%Y-%m-%d', time.gmtime())}")
        # Each set-up runs --runs times, the spools alternately; the best run of each is reported.
        best = {}
        for run in range(options.runs):
            for nodes, pg in ((1, None), (1, postgres), (2, postgres), (3, postgres)):
                measured = throughput(work, store, postgres.url if pg else "", nodes, options.burst, pg)
                key = (nodes, pg is not None)
                if key not in best or measured[0] < best[key][0]:
                    best[key] = measured
        elapsed, cpu, _ = best[(1, False)]
        file_rate = options.burst / elapsed
        print(f"  file spool, 1 node:     {elapsed:6.2f} s  {file_rate:7.1f} jobs/s  {cpu:6.2f} CPU s")
        rates = {}
        for nodes in (1, 2, 3):
            elapsed, cpu, server = best[(nodes, True)]
            rates[nodes] = options.burst / elapsed
            print(f"  postgres spool, {nodes} node{'s' if nodes > 1 else ' '}: {elapsed:6.2f} s  "
                  f"{rates[nodes]:7.1f} jobs/s  {cpu:6.2f} CPU s (jobdrop processes), {server:5.2f} CPU s (PostgreSQL)")
        print(f"  one postgres node / file spool: {rates[1] / file_rate:.2f}; three nodes / one: {rates[3] / rates[1]:.2f}")
        for label, spool, pg in (("file spool:    ", "", None), ("postgres spool:", postgres.url, postgres)):
            c50, c95, p50, p95 = latency(work, store, spool, options.drops, pg)
            print(f"  {label} drop -> claimed p50 {c50:5.1f} ms  p95 {c95:5.1f} ms;"
                  f"  drop -> success p50 {p50:5.1f} ms  p95 {p95:5.1f} ms")
        postgres.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
