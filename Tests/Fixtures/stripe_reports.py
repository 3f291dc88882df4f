"""Stripe's own Python library against the ledger's /v1/identity/verification_reports.

Arguments: base URL, a test-mode key, a live-mode key, and a JSON object of the filter values to try
(client_reference_id, session, created_gte, created_lt, created, oldest). Prints one line, RESULT and a JSON
object of what the library returned; the Swift test compares it with what it created.
"""
import json
import sys

import stripe

base, test_key, live_key, probes = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
stripe.api_base = base
stripe.api_key = test_key
stripe.max_network_retries = 0
Reports = stripe.identity.VerificationReport


def ids(listing):
    return [report.id for report in listing.auto_paging_iter()]


result = {}
forward = ids(Reports.list(limit=100))
result["forward"] = forward
result["forward_small_pages"] = ids(Reports.list(limit=7))
result["backward"] = ids(Reports.list(limit=100, ending_before=probes["oldest"]))
first = Reports.retrieve(forward[0])
result["retrieved"] = {
    "id": first.id, "object": first.object, "created_is_int": isinstance(first.created, int),
    "livemode": first.livemode, "type": first.type, "verification_session": first.verification_session,
    "status": (first.document or first.email)["status"],
}
result["by_client_reference_id"] = ids(Reports.list(client_reference_id=probes["client_reference_id"], limit=10))
result["by_type_document"] = ids(Reports.list(type="document"))
result["by_type_verification_flow"] = ids(Reports.list(type="verification_flow", limit=100))
result["by_session"] = ids(Reports.list(verification_session=probes["session"]))
result["by_created_range"] = ids(Reports.list(created={"gte": probes["created_gte"], "lt": probes["created_lt"]}, limit=3))
result["by_created_exact"] = ids(Reports.list(created=probes["created"]))
result["expand_ignored"] = Reports.retrieve(forward[0], expand=["verification_session"]).id
try:
    Reports.retrieve("vr_000000000000000000000000_a1")
    result["missing"] = None
except stripe.InvalidRequestError as error:
    result["missing"] = {"status": error.http_status, "code": error.code, "param": error.param}
result["live"] = ids(Reports.list(api_key=live_key))
try:
    Reports.retrieve(forward[0], api_key=live_key)
    result["live_sees_test"] = True
except stripe.InvalidRequestError as error:
    result["live_sees_test"] = error.http_status != 404
print("RESULT " + json.dumps(result))
