"""A receiver that proves it has every message, as the README shows: it verifies each delivery with the
standardwebhooks library, then checks `sequence` and `previous_message_id` per verification and
destination (here: per URL path), so it notices by itself a message that never came.

usage: webhook_gap_receiver.py PORT_FILE LOG_FILE SECRET [FAIL_FIRST]
Answers 500 to the first FAIL_FIRST deliveries without taking them (as if they were lost), 200 afterwards,
and writes one JSON line per delivery it took: its verdict (in_order, gap, fills_gap, duplicate,
chain_broken) and the sequence numbers it still misses. Stops when its parent test process does.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler

from receiver_process import serve
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

port_file, log_file, secret = sys.argv[1], sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
lock = threading.Lock()
requests = 0
streams = {}  # (destination, verification id) -> {"ids": {sequence: message id}, "last": int, "missing": set}


def check(stream, message_id, sequence, previous_id):
    """What this delivery means for the stream of one destination and verification."""
    ids, last = stream["ids"], stream["last"]
    if sequence in ids:
        return "duplicate"
    ids[sequence] = message_id
    known_previous = ids.get(sequence - 1)
    if (sequence == 1 and previous_id is not None) or (known_previous is not None and known_previous != previous_id):
        return "chain_broken"
    if sequence < last:
        stream["missing"].discard(sequence)
        return "fills_gap"
    stream["missing"].update(range(last + 1, sequence))
    stream["last"] = sequence
    return "in_order" if sequence == last + 1 else "gap"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        global requests
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            return self.answer(400)
        with lock:
            requests += 1
            if requests <= fail_first:
                return self.answer(500)
            verification = payload["data"]["object"].get("verification_id") or payload["data"]["object"]["id"]
            stream = streams.setdefault((self.path, verification), {"ids": {}, "last": 0, "missing": set()})
            verdict = check(stream, headers["webhook-id"], payload["sequence"], payload["previous_message_id"])
            record = {"path": self.path, "verification_id": verification, "webhook_id": headers["webhook-id"],
                      "sequence": payload["sequence"], "previous_message_id": payload["previous_message_id"],
                      "verdict": verdict, "missing": sorted(stream["missing"])}
            with open(log_file, "a") as log:
                log.write(json.dumps(record) + "\n")
        self.answer(200)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


serve(Receiver, port_file)
