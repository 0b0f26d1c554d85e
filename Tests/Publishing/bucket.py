#!/usr/bin/env python3
"""The object-storage side of jobdrop's publishing tests: moto's S3 server, read back with boto3.

  bucket.py serve PORT BUCKET CREDENTIALS_FILE [--auth]
      Runs moto's S3 server on 127.0.0.1:PORT with BUCKET created. With --auth, moto checks every
      request's SigV4 signature against an IAM user made at start; its access key and secret are written
      to CREDENTIALS_FILE as `KEY SECRET`. Prints "listening" when ready; runs until killed.

  bucket.py compare ENDPOINT BUCKET PREFIX OUTBOX
      Compares the bucket's objects under PREFIX/ with the outbox folder's files (dot-files left out):
      the same paths, the same bytes, and the Content-Type and Cache-Control of the shipped nginx
      configuration. Prints a JSON report; exits 0 when equal, 1 when not.

  bucket.py put ENDPOINT BUCKET KEY TEXT
      Puts an object by hand (a bucket changed behind jobdrop's back).

  bucket.py get ENDPOINT BUCKET KEY FILE / bucket.py create ENDPOINT BUCKET
      Reads one object into FILE; makes another bucket.

  bucket.py uploads ENDPOINT BUCKET
      Prints {"unfinished": [keys of multipart uploads not completed nor aborted],
      "multipart": [keys of objects put in parts, with their parts' count]}.

Credentials for compare and put come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import json
import os
import signal
import sys

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "gz": "application/gzip",
    "zst": "application/zstd",
    "parquet": "application/vnd.apache.parquet",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SITE_ROOTS = {"index.json", "index.html", "jobs", "requests", "files", "errors"}


def expected_headers(path):
    name = path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    content_type = CONTENT_TYPES.get(extension, "application/octet-stream")
    parts = path.split("/")
    if len(parts) > 1 and parts[0] not in SITE_ROOTS:
        parts = parts[1:]  # a partner's site
    cache = {"files": "public, max-age=604800, immutable", "errors": "no-store"}.get(parts[0], "no-cache")
    return content_type, cache


def client(endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def serve(port, bucket, credentials_file, auth):
    if auth:
        # The first four requests (making the user, its policy, its key and the bucket) go unchecked.
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    key, secret = "jobdrop-test", "jobdrop-test-secret"
    if auth:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="y")
        iam.create_user(UserName="jobdrop")
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="jobdrop", PolicyName="publish", PolicyDocument=json.dumps(policy))
        access = iam.create_access_key(UserName="jobdrop")["AccessKey"]
        key, secret = access["AccessKeyId"], access["SecretAccessKey"]
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                 aws_secret_access_key=secret).create_bucket(Bucket=bucket)
    with open(credentials_file + ".tmp", "w") as out:
        out.write(f"{key} {secret}\n")
    os.rename(credentials_file + ".tmp", credentials_file)
    print("listening", flush=True)
    signal.pause()


def compare(endpoint, bucket, prefix, outbox):
    s3 = client(endpoint)
    remote = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else ""):
        for item in page.get("Contents", []):
            remote[item["Key"][len(prefix) + 1 if prefix else 0:]] = item["Key"]
    local = {}
    for folder, directories, files in os.walk(outbox):
        directories[:] = [d for d in directories if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            full = os.path.join(folder, name)
            local[os.path.relpath(full, outbox)] = full
    differences = []
    for path in sorted(set(local) - set(remote)):
        differences.append({"path": path, "problem": "missing from the bucket"})
    for path in sorted(set(remote) - set(local)):
        differences.append({"path": path, "problem": "in the bucket, not in the outbox"})
    for path in sorted(set(local) & set(remote)):
        answer = s3.get_object(Bucket=bucket, Key=remote[path])
        body = answer["Body"].read()
        with open(local[path], "rb") as file:
            content = file.read()
        if body != content:
            differences.append({"path": path, "problem": f"bytes differ ({len(body)} in the bucket, {len(content)} here)"})
        content_type, cache = expected_headers(path)
        if answer.get("ContentType") != content_type:
            differences.append({"path": path, "problem": f"Content-Type {answer.get('ContentType')!r}, expected {content_type!r}"})
        if answer.get("CacheControl") != cache:
            differences.append({"path": path, "problem": f"Cache-Control {answer.get('CacheControl')!r}, expected {cache!r}"})
    report = {"equal": not differences, "objects": len(remote), "files": len(local),
              "differences": differences[:20]}
    print(json.dumps(report))
    return 0 if report["equal"] else 1


def uploads(endpoint, bucket):
    s3 = client(endpoint)
    unfinished = [upload["Key"] for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    multipart = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if "-" in item["ETag"]:
                multipart.append([item["Key"], int(item["ETag"].strip('"').rsplit("-", 1)[1])])
    print(json.dumps({"unfinished": unfinished, "multipart": multipart}))


def main():
    command = sys.argv[1]
    if command == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], "--auth" in sys.argv[5:])
    elif command == "compare":
        sys.exit(compare(*sys.argv[2:6]))
    elif command == "put":
        endpoint, bucket, key, text = sys.argv[2:6]
        client(endpoint).put_object(Bucket=bucket, Key=key, Body=text.encode())
    elif command == "get":
        endpoint, bucket, key, out = sys.argv[2:6]
        with open(out, "wb") as file:
            file.write(client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read())
    elif command == "create":
        client(sys.argv[2]).create_bucket(Bucket=sys.argv[3])
    elif command == "uploads":
        uploads(*sys.argv[2:4])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
