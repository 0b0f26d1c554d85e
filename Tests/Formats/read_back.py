"""Reads jobdrop's exports back with readers jobdrop did not write (Python's csv, json and gzip, the gzip
program, the zstandard module, openpyxl for workbooks, pyarrow and DuckDB for Parquet) and compares
every format with the plain CSV of the same request.

    read_back.py OUTBOX CATALOG_JSON

Jobs are grouped by meta.request.reference: in each group the job whose format is `csv` with no
options is the reference; every other job of the group must hold the same header, rows and order.
The catalog (`jobdrop catalog --json`) says which columns are integer or money: numbers in JSON Lines
and numeric cells in workbooks, where every other value is a string; in Parquet they are INT64,
timestamps TIMESTAMP(MILLIS, UTC) and the rest UTF-8 strings, each column chunk with its statistics. Prints one line per file checked; exits
non-zero with a message at the first difference.
"""

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys

import duckdb
import openpyxl
import pyarrow
import pyarrow.parquet
import zstandard

OUTBOX = sys.argv[1]
with open(sys.argv[2]) as catalog_file:
    NUMERIC_BY_TYPE = {job_type["name"]: {column["name"] for column in job_type["columns"]
                                          if column["type"] in ("integer", "money")}
                       for job_type in json.load(catalog_file)["job_types"]}
TIMESTAMP_BY_TYPE = {job_type["name"]: {column["name"] for column in job_type["columns"]
                                          if column["type"] == "timestamp"}
                     for job_type in json.load(open(sys.argv[2]))["job_types"]}
NUMERIC = set()
TIMESTAMPS = set()


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def local_path(job):
    href = job["link"]["href"]
    return os.path.join(OUTBOX, "files", job["id"], href.rsplit("/", 1)[1])


def read_csv(data, delimiter=",", bom=False):
    if bom:
        if not data.startswith(b"\xef\xbb\xbf"):
            fail("a bom: true file should start with the UTF-8 byte order mark")
        data = data[3:]
    elif data.startswith(b"\xef\xbb\xbf"):
        fail("a file without bom should not start with a byte order mark")
    text = data.decode("utf-8")
    if "\r\n" not in text:
        fail("CSV rows should end with CRLF")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))


def as_csv_cell(value, column):
    """What the CSV holds for a typed value read from JSON or a workbook."""
    if value is None:
        return ""
    if column in NUMERIC:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            fail("column %s should hold numbers, found %r" % (column, value))
        return str(int(value)) if float(value).is_integer() else repr(value)
    if not isinstance(value, str):
        fail("column %s should hold strings, found %r" % (column, value))
    return value


def read_jsonl(data):
    text = data.decode("utf-8")
    if text and not text.endswith("\n"):
        fail("every JSON line should end with \\n")
    rows, header = [], None
    for number, line in enumerate(text.split("\n")[:-1], 1):
        try:
            document = json.loads(line, object_pairs_hook=list)
        except ValueError as error:
            fail("line %d is not JSON: %s" % (number, error))
        keys = [key for key, _ in document]
        if header is None:
            header = keys
        elif keys != header:
            fail("line %d has keys %s, not %s" % (number, keys, header))
        rows.append([as_csv_cell(value, key) for key, value in document])
    return [header or []] + rows


def read_xlsx(path):
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows, header = [], None
    for index, name in enumerate(workbook.sheetnames):
        if name != ("export" if index == 0 else "export %d" % (index + 1)):
            fail("sheet %d is named %r" % (index + 1, name))
        sheet_rows = list(workbook[name].iter_rows(values_only=True))
        if header is None:
            header = list(sheet_rows[0])
        elif list(sheet_rows[0]) != header:
            fail("sheet %r has another header row" % name)
        for row in sheet_rows[1:]:
            rows.append([as_csv_cell(value, column) for value, column in zip(row, header)])
    # Formulas: a workbook written by jobdrop has none, whatever its text.
    for name in workbook.sheetnames:
        for row in workbook[name].iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    fail("cell %s of %r is a formula" % (cell.coordinate, name))
    return [header] + rows


def parquet_cell(value, column):
    """What the CSV holds for a value pyarrow or DuckDB read from a Parquet file."""
    if value is None:
        return ""
    if column in TIMESTAMPS:
        if value.utcoffset() is None or value.utcoffset().total_seconds() != 0:
            fail("column %s should hold UTC times, found %r" % (column, value))
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return as_csv_cell(value, column)


def read_parquet(path, header_names):
    parquet_file = pyarrow.parquet.ParquetFile(path)
    table = parquet_file.read()
    for field in table.schema:
        if field.name in NUMERIC:
            wanted = pyarrow.int64()
        elif field.name in TIMESTAMPS:
            wanted = pyarrow.timestamp("ms", tz="UTC")
        else:
            wanted = pyarrow.string()
        if field.type != wanted:
            fail("parquet column %s is %s, not %s" % (field.name, field.type, wanted))
    metadata = parquet_file.metadata
    # Every column chunk: Zstandard pages and statistics that hold for its values.
    for group in range(metadata.num_row_groups):
        values = parquet_file.read_row_group(group)
        for index in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(index)
            column = values.column(index)
            if chunk.compression != "ZSTD":
                fail("parquet column chunk %d/%d is %s, not ZSTD" % (group, index, chunk.compression))
            stats = chunk.statistics
            if stats is None or stats.null_count != column.null_count:
                fail("parquet column %s, row group %d: null_count %s, %d NULLs"
                     % (column, group, stats and stats.null_count, column.null_count))
            present = [value for value in column.to_pylist() if value is not None]
            if present and (not stats.has_min_max or stats.min != min(present) or stats.max != max(present)):
                fail("parquet column %s, row group %d: min/max %s/%s, values %s/%s"
                     % (table.schema[index].name, group, stats.min if stats.has_min_max else None,
                        stats.max if stats.has_min_max else None, min(present), max(present)))
    names = table.column_names
    rows = [[parquet_cell(value, name) for value, name in zip(row, names)]
            for row in zip(*(table.column(name).to_pylist() for name in names))]
    # DuckDB reads the same rows.
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    theirs = [[parquet_cell(value, name) for value, name in zip(row, names)]
              for row in connection.execute("SELECT * FROM read_parquet(?)", [path]).fetchall()]
    if theirs != rows:
        fail("DuckDB and pyarrow read %s differently" % path)
    return [names] + rows


def gunzip(data):
    """The gzip program's reading (every member), checked against Python's."""
    theirs = subprocess.run(["gzip", "-dc"], input=data, capture_output=True, check=True).stdout
    if theirs != gzip.decompress(data):
        fail("gzip -d and Python's gzip read the file differently")
    return theirs


def unzstd(data):
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


def read_parts(job):
    """A split export: the manifest checked against its parts (sizes, hashes, rows, totals, hrefs), and
    each part's bytes in order."""
    with open(local_path(job), "rb") as file:
        manifest_bytes = file.read()
    if job["meta"]["sha256"] != hashlib.sha256(manifest_bytes).hexdigest():
        fail("%s: meta.sha256 is not the manifest's" % job["id"])
    manifest = json.loads(manifest_bytes)
    if manifest["job"] != job["id"] or manifest["format"] != job["meta"]["request"]["format"]:
        fail("%s: manifest names job %s, format %s" % (job["id"], manifest["job"], manifest["format"]))
    if manifest["complete"] is not True:
        fail("%s: the manifest of a job in success should say complete" % job["id"])
    if len(manifest["parts"]) != job["meta"]["parts"]:
        fail("%s: meta.parts %s, manifest lists %d" % (job["id"], job["meta"]["parts"], len(manifest["parts"])))
    parts = []
    folder = os.path.join(OUTBOX, "files", job["id"])
    extension = job["meta"]["request"]["format"]
    for number, part in enumerate(manifest["parts"], 1):
        name = part["href"].rsplit("/", 1)[1]
        if not name.endswith("-%05d.%s" % (number, extension)):
            fail("%s: part %d is named %s" % (job["id"], number, name))
        with open(os.path.join(folder, name), "rb") as file:
            data = file.read()
        if len(data) != part["bytes"] or hashlib.sha256(data).hexdigest() != part["sha256"]:
            fail("%s: part %s does not match its size or sha256 in the manifest" % (job["id"], name))
        split = job["meta"]["request"]["split"]
        if "rows" in split and number < len(manifest["parts"]) and part["rows"] != split["rows"]:
            fail("%s: part %d holds %d rows, not %d" % (job["id"], number, part["rows"], split["rows"]))
        if "bytes" in split and extension in ("csv", "jsonl") and part["bytes"] > split["bytes"]:
            fail("%s: part %d is %d bytes, over %d" % (job["id"], number, part["bytes"], split["bytes"]))
        parts.append((os.path.join(folder, name), data, part["rows"]))
    if manifest["rows"] != sum(p["rows"] for p in manifest["parts"]) or manifest["rows"] != job["meta"]["rows"]:
        fail("%s: manifest rows %d, parts %d, meta.rows %d" % (job["id"], manifest["rows"],
             sum(p["rows"] for p in manifest["parts"]), job["meta"]["rows"]))
    if manifest["bytes"] != sum(p["bytes"] for p in manifest["parts"]) or manifest["bytes"] != job["meta"]["bytes"]:
        fail("%s: manifest bytes %d, parts %d, meta.bytes %d" % (job["id"], manifest["bytes"],
             sum(p["bytes"] for p in manifest["parts"]), job["meta"]["bytes"]))
    unlisted = set(os.listdir(folder)) - {"manifest.json"} - {os.path.basename(p[0]) for p in parts}
    if unlisted:
        fail("%s: files not in the manifest: %s" % (job["id"], sorted(unlisted)))
    return parts


def read_file(form, request, path, data, expected_header):
    body = gunzip(data) if form.endswith(".gz") else unzstd(data) if form.endswith(".zst") else data
    if form in ("csv", "csv.gz", "csv.zst"):
        return read_csv(body, request.get("delimiter", ","), request.get("bom", False))
    if form in ("jsonl", "jsonl.gz", "jsonl.zst"):
        return read_jsonl(body)
    if form == "xlsx":
        return read_xlsx(path)
    if form == "parquet":
        return read_parquet(path, expected_header)
    fail("unknown format " + form)


def check_meta(job, data):
    if job["meta"]["bytes"] != len(data):
        fail("%s: meta.bytes %d, file %d bytes" % (job["id"], job["meta"]["bytes"], len(data)))
    if job["meta"]["sha256"] != hashlib.sha256(data).hexdigest():
        fail("%s: meta.sha256 does not match the file" % job["id"])
    extension = job["meta"]["request"]["format"]
    if not job["link"]["href"].endswith("." + extension):
        fail("%s: link.href %s should end in .%s" % (job["id"], job["link"]["href"], extension))


with open(os.path.join(OUTBOX, "index.json")) as file:
    jobs = json.load(file)["data"]
groups = {}
for job in jobs:
    if job["status"] != "success":
        fail("job %s (%s) failed: %s" % (job["id"], job["meta"]["request"]["file"], job.get("error")))
    groups.setdefault(job["meta"]["request"]["reference"], []).append(job)

checked = 0
for reference, members in sorted(groups.items()):
    plain = [job for job in members if job["meta"]["request"]["format"] == "csv"
             and not {"delimiter", "bom", "split"} & set(job["meta"]["request"])]
    if len(plain) != 1:
        fail("group %s needs exactly one plain csv job" % reference)
    with open(local_path(plain[0]), "rb") as file:
        expected = read_csv(file.read())
    for job in members:
        request = job["meta"]["request"]
        NUMERIC.clear()
        NUMERIC.update(NUMERIC_BY_TYPE[job["job_type"]])
        TIMESTAMPS.clear()
        TIMESTAMPS.update(TIMESTAMP_BY_TYPE[job["job_type"]])
        form = request["format"]
        if "split" in request:
            # Parts concatenated, each with its own header (a CSV's, a workbook's, a Parquet schema).
            got = None
            for path, data, rows in read_parts(job):
                part = read_file(form, request, path, data, expected[0])
                if len(part) - 1 != rows:
                    fail("%s: part %s holds %d rows, the manifest says %d" % (job["id"], path, len(part) - 1, rows))
                if got is None:
                    got = part
                elif part[0] != got[0]:
                    fail("%s: part %s has another header" % (job["id"], path))
                else:
                    got += part[1:]
        else:
            with open(local_path(job), "rb") as file:
                data = file.read()
            check_meta(job, data)
            got = read_file(form, request, local_path(job), data, expected[0])
        if got[0] != expected[0]:
            fail("%s %s: header %s, CSV %s" % (reference, form, got[0], expected[0]))
        if len(got) != len(expected):
            fail("%s %s: %d rows, CSV %d" % (reference, form, len(got) - 1, len(expected) - 1))
        for number, (mine, theirs) in enumerate(zip(got, expected)):
            if mine != theirs:
                fail("%s %s row %d: %s != CSV %s" % (reference, form, number, mine, theirs))
        checked += 1
        options = {k: request[k] for k in ("delimiter", "bom", "split") if k in request}
        print("%s %s%s: %d rows as in the CSV" % (reference, form, " " + json.dumps(options) if options else "",
                                                  len(got) - 1))
print("checked %d files" % checked)
