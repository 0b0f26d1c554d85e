"""A webhook receiver for jobdrop's tests: verifies every event with the Standard Webhooks reference
library (PyPI `standardwebhooks`) and appends what it saw to a log, one JSON object per line.

    receiver.py PORT SECRET LOG [--fail-first N] [--delay SECONDS] [--answer redirect|huge]

--fail-first N   answers 503 to the first N attempts of each webhook-id
--delay S        waits S seconds before answering (a slow receiver)
--answer redirect|huge   answers 302 to another URL, or 200 with a 1 MiB body

Each log line: id, timestamp, type, job id and status from the body, attempt (per id), verified, answer.
The line is written before the answer is sent. Prints "listening" once it accepts connections.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("secret")
parser.add_argument("log")
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--delay", type=float, default=0)
parser.add_argument("--answer", choices=["redirect", "huge"])
options = parser.parse_args()
verifier = Webhook(options.secret)
attempts = {}
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            verifier.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        event = json.loads(body)
        with lock:
            attempt = attempts.get(headers.get("webhook-id"), 0) + 1
            attempts[headers.get("webhook-id")] = attempt
        if options.delay:
            time.sleep(options.delay)
        answer = 200
        if attempt <= options.fail_first:
            answer = 503
        elif options.answer == "redirect":
            answer = 302
        record = {
            "id": headers.get("webhook-id"), "timestamp": headers.get("webhook-timestamp"),
            "type": event["type"], "job": event["data"]["id"], "status": event["data"]["status"],
            "partner": event["data"]["meta"].get("partner"), "attempt": attempt, "verified": verified,
            "answer": answer, "received": time.time(),
        }
        with lock, open(options.log, "a") as log:
            log.write(json.dumps(record) + "\n")
        self.send_response(answer)
        if answer == 302:
            self.send_header("Location", "http://127.0.0.1:%d/elsewhere" % options.port)
        payload = b"x" * (1 << 20) if options.answer == "huge" else b"ok"
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", options.port), Receiver)
print("listening", flush=True)
server.serve_forever()
