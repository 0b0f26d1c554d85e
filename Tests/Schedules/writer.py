"""A commerce database at work: updates random orders of the SQLite store at `path` about twenty times a
second, each with `updated_at` = now (UTC, to the second), until killed.

Once the file `hold` appears it holds an exclusive lock for 12 s: a run (made every 2 s) that starts
reading in its first 7 s waits out jobdrop's 5 s busy wait and fails; it writes `hold.released` afterwards.
"""
import datetime
import os
import random
import sqlite3
import sys
import time

path, hold = sys.argv[1], sys.argv[2]
random.seed(7)
ids = [row[0] for row in sqlite3.connect(path).execute("SELECT id FROM orders")]
held = False
while True:
    if not held and os.path.exists(hold):
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(12)
        connection.execute("ROLLBACK")
        connection.close()
        held = True
        open(hold + ".released", "w").close()
        continue
    connection = sqlite3.connect(path, timeout=30)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    connection.execute(
        "UPDATE orders SET updated_at = ?, item_count = item_count + 1 WHERE id = ?", (now, random.choice(ids)))
    connection.commit()
    connection.close()
    time.sleep(0.05)
