"""Parses a Prometheus text-format file with prometheus_client's parser (PyPI), not jobdrop's, and prints
every sample as JSON lines: {"name", "labels", "value"}. Exits non-zero if the file does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for sample in family.samples:
        print(json.dumps({"family": family.name, "type": family.type, "name": sample.name,
                          "labels": sample.labels, "value": sample.value}))
