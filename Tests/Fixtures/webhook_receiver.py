"""A webhook receiver for the tests: verifies every delivery with the standardwebhooks library (an
independent implementation of the spec) and writes one JSON line per request to a log.

usage: webhook_receiver.py PORT_FILE LOG_FILE SECRETS_FILE [FAIL_FIRST [FAIL_STATUS [PORT [DELAY]]]]
SECRETS_FILE holds the whsec_ secrets to check against, one per line; it is read at every request.
Answers FAIL_STATUS (500) to the first FAIL_FIRST requests, 200 afterwards, each after DELAY seconds;
listens on PORT (0: any free port). Stops when its parent test process does.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler

from receiver_process import serve
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

port_file, log_file, secrets_file = sys.argv[1], sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
fail_status = int(sys.argv[5]) if len(sys.argv) > 5 else 500
port = int(sys.argv[6]) if len(sys.argv) > 6 else 0
delay = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
lock = threading.Lock()
seen = 0


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if delay:
            threading.Event().wait(delay)
        headers = {k.lower(): v for k, v in self.headers.items()}
        valid = {}
        with open(secrets_file) as f:
            secrets = [line.strip() for line in f if line.strip()]
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
                valid[secret] = True
            except WebhookVerificationError:
                valid[secret] = False
        with lock:
            seen += 1
            status = fail_status if seen <= fail_first else 200
            payload = json.loads(body)
            record = {
                "path": self.path, "status": status, "valid": valid, "webhook_id": headers.get("webhook-id"),
                "signatures": len(headers.get("webhook-signature", "").split()), "type": payload.get("type"),
                "verification_id": payload["data"]["object"].get("verification_id") or payload["data"]["object"].get("id"),
                "stream_version": payload.get("stream_version"), "metadata": payload.get("metadata"),
                "object": payload["data"]["object"],
            }
            with open(log_file, "a") as log:
                log.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"try again")

    def log_message(self, *args):
        pass


serve(Receiver, port_file, port, reuse_address=True)
