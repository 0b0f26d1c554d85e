"""The next time of each cron expression, by croniter (PyPI), an implementation independent of jobdrop's.

croniter combines the two day fields with OR unless told otherwise; Vixie cron (what jobdrop follows)
uses AND as soon as either field starts with `*` (`*/2` included), so that is passed as `day_or`.

Reads lines `expression|time zone|epoch seconds` on stdin; writes the next time after each, in epoch
seconds, one a line (`none` when croniter finds none).
"""
import datetime
import sys
from zoneinfo import ZoneInfo

import croniter

for line in sys.stdin:
    expression, zone, epoch = line.rstrip("\n").split("|")
    start = datetime.datetime.fromtimestamp(int(epoch), ZoneInfo(zone))
    fields = expression.split()
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    try:
        nxt = croniter.croniter(expression, start, day_or=day_or).get_next(datetime.datetime)
        print(int(nxt.timestamp()))
    except Exception as error:  # croniter's own "no next time" and refusals
        print("none", error, file=sys.stderr)
        print("none")
