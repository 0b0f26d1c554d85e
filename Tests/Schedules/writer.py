"""A commerce database at work: updates random orders of the SQLite store at `path` about twenty times a
second, each with `updated_at` = now (UTC, to the second), until killed. While the store is renamed away
(the test makes a run fail that way) it waits for it to come back, and never creates it.
"""
import datetime
import random
import sqlite3
import sys
import time

path = sys.argv[1]
random.seed(7)
ids = [row[0] for row in sqlite3.connect(f"file:{path}?mode=rw", uri=True).execute("SELECT id FROM orders")]
while True:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    except sqlite3.OperationalError:
        time.sleep(0.05)  # renamed away for a moment
        continue
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    connection.execute(
        "UPDATE orders SET updated_at = ?, item_count = item_count + 1 WHERE id = ?", (now, random.choice(ids)))
    connection.commit()
    connection.close()
    time.sleep(0.05)
