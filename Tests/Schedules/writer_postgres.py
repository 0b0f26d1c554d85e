"""A commerce database at work, on PostgreSQL: updates random orders at `url` about twenty times a second
(through one psql session), each with `updated_at` = now (UTC, to the second), until killed.

Once the file `hold` appears, another session holds an exclusive lock on `orders` for 8 s; the database
cancels jobdrop's queries after 3 s (the test sets statement_timeout for new sessions), so the run that
reads then fails. It writes `hold.released` afterwards.
"""
import os
import random
import subprocess
import sys
import time

url, hold = sys.argv[1], sys.argv[2]
ids = subprocess.run(["psql", "-X", "-A", "-t", "-d", url, "-c", "SELECT id FROM orders"],
                     capture_output=True, text=True, check=True).stdout.split()
random.seed(7)
session = subprocess.Popen(["psql", "-X", "-q", "-d", url], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           text=True)
session.stdin.write("SET statement_timeout = 0;\n")
held = False
while True:
    if not held and os.path.exists(hold):
        subprocess.run(["psql", "-X", "-q", "-d", url, "-c",
                        "SET statement_timeout = 0; BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; "
                        "SELECT pg_sleep(8); COMMIT;"], capture_output=True, check=True)
        held = True
        open(hold + ".released", "w").close()
        continue
    session.stdin.write(
        "UPDATE orders SET updated_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        f"item_count = item_count + 1 WHERE id = '{random.choice(ids)}';\n")
    session.stdin.flush()
    time.sleep(0.05)
