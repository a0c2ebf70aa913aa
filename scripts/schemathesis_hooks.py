"""Hooks scripts/api-fuzz.sh loads into schemathesis.

One check replaces schemathesis' positive_data_acceptance (ST202, "schema-valid request rejected"):
the same check, except that a 422 whose every detail is a refusal the fleet's *state* decides, not
the request's shape, is accepted. docs/openapi.yaml cannot know which groups exist or whether a
selector selects a host; docs/semantics (docs/domain.md) make those answers 422s:
  - no_targets: the selector resolved to no host and allow_empty is not true;
  - unknown_group: selector.groups[i] or parent_id names a group that does not exist;
  - unknown_window: a rollout's or schedule's window names no maintenance window.
So is a 422 too_large on `criteria` itself: the caps on a whole selector (conditions in all,
characters of values together, NFA steps together) are sums, which no JSON Schema can state, and
the nesting depth is left out of the recursive Criterion schema; the spec's Criterion description
states all four. Every other cap (list lengths, one value's length) is in the schemas, and any
other 422 (or 400) for a schema-valid request is still a failure.
Two rollout refusals are beyond the schema too: a gate's host not in FLEET_GATE_HOSTS (the
deployment's configuration decides; the fuzzing stack allows only 127.0.0.1), and a gate
`after: canary` in a rollout without a canary (a rule across two fields, stated in the field's
description). And two of a rerun: a reason whose status the body's statuses leave out (again a
rule across two fields), and more matching hosts than one operation may name (the original's
results decide); no_hosts_match is a state code like no_targets. And the failure-domain fields
go together: max_per_domain and domain_order need spread_by, spread_by needs max_per_domain. And
GET /events takes exactly one of its three parameters.
"""
import re
import json

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

STATE_CODES = {"no_targets", "unknown_group", "unknown_window", "no_hosts_match"}


GATE_FIELD = re.compile(r"^(rolling\.)?gates\[\d+\]\.(url|after)$")
DOMAIN_FIELD = re.compile(r"^(rolling\.)?(max_per_domain|domain_order)$")


def allowed(detail) -> bool:
    if detail.get("code") in STATE_CODES:
        return True
    field = detail.get("field") or ""
    message = detail.get("message") or ""
    if GATE_FIELD.match(field) and ("FLEET_GATE_HOSTS" in message or "needs a canary" in message):
        return True
    if DOMAIN_FIELD.match(field) and ("needs spread_by" in message or detail.get("code") == "required"):
        return True
    if (field == "reasons" and "statuses leaves out" in message) or (field == "statuses" and detail.get("code") == "too_large"):
        return True
    # GET /events names exactly one of operation, rollout and schedule: a rule across parameters.
    if field == "operation" and message.startswith("name exactly one of"):
        return True
    if detail.get("code") != "too_large":
        return False
    # The sums, on `criteria` itself; and the nesting depth, on the criterion too deep: a schema
    # unrolled eight levels deep states it, but schemathesis' coverage phase then grows past 2 GB.
    return field == "criteria" or field.endswith(".criteria") or (detail.get("message") or "").startswith("criteria nest")


def refused_beyond_the_schema(response) -> bool:
    if response.status_code != 422:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    if body.get("error") in STATE_CODES:
        return True
    details = body.get("details") or []
    return bool(details) and all(allowed(d) for d in details)


@schemathesis.check
def positive_data_acceptance_of_shape(ctx, response, case):
    if refused_beyond_the_schema(response):
        return None
    return positive_data_acceptance(ctx, response, case)


# A workaround for a CPython 3.11 bug, not a check: hypothesis describes each filter lambda by
# parsing its source file with `ast.parse`, which on 3.11 can raise "SystemError: AST constructor
# recursion depth mismatch" for schemathesis' large coverage module. The description is only
# the strategy's repr, so an unknown one loses nothing; without this the coverage phase of
# POST /bulk/{id}/cancel ended in a Runtime Error (every run, seed 1).
from hypothesis.internal import lambda_sources as _lambda_sources

_describe_lambda = _lambda_sources._lambda_description


def _lambda_description_or_unknown(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <source not parsed>"


_lambda_sources._lambda_description = _lambda_description_or_unknown
