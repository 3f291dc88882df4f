"""Stripe's own Python library against the ledger's refusals on /v1/identity/verification_reports.

Arguments: base URL and a test-mode key. Prints one line, RESULT and a JSON object: for each probe, the HTTP
status, code, param and message of the InvalidRequestError the library raised (null if it raised none).
"""
import json
import sys

import stripe

base, key = sys.argv[1], sys.argv[2]
stripe.api_base = base
stripe.api_key = key
stripe.max_network_retries = 0
Reports = stripe.identity.VerificationReport

probes = {
    "limit_not_integer": lambda: Reports.list(limit="abc"),
    "limit_zero": lambda: Reports.list(limit=0),
    "limit_too_large": lambda: Reports.list(limit=101),
    "created_gte_not_integer": lambda: Reports.list(created={"gte": "x"}),
    "created_not_integer": lambda: Reports.list(created="soon"),
    "type_empty": lambda: Reports.list(type=""),
    "type_unknown": lambda: Reports.list(type="selfie"),
    "client_reference_id_empty": lambda: Reports.list(client_reference_id=""),
    "unknown_parameter": lambda: Reports.list(colour="blue"),
    "unknown_cursor": lambda: Reports.list(starting_after="vr_nothing_a1"),
    "both_cursors": lambda: Reports.list(starting_after="vr_nothing_a1", ending_before="vr_nothing_a2"),
    "unknown_id": lambda: Reports.retrieve("vr_nothing_a1"),
}
result = {}
for name, probe in probes.items():
    try:
        probe()
        result[name] = None
    except stripe.InvalidRequestError as error:
        result[name] = {"status": error.http_status, "code": error.code, "param": error.param, "message": error.user_message}
print("RESULT " + json.dumps(result))
