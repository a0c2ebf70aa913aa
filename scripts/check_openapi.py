"""Validates docs/openapi.yaml, then every response the gateway tests recorded against it.

Each recorded line is {"method", "path", "status", "body"}; the path is matched to the spec's
templates, and the body validated against that operation's schema for that status.
Usage: check_openapi.py SPEC RESPONSES.jsonl
"""
import json
import re
import sys

import yaml
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

spec_path, responses_path = sys.argv[1], sys.argv[2]
spec = yaml.safe_load(open(spec_path))
validate_spec(spec)
registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))
templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t) for t in spec["paths"]]


def pointer(*parts):
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


checked, failures = 0, []
for line in open(responses_path):
    r = json.loads(line)
    path = r["path"].split("?")[0]
    template = next((t for rx, t in templates if rx.match(path)), None)
    if template is None:
        if r["status"] != 404:
            failures.append(f"{r['method']} {path}: no such path in the spec (status {r['status']})")
        continue
    operation = spec["paths"][template].get(r["method"].lower())
    if operation is None:
        if r["status"] != 405:  # an undeclared method of a known path is answered 405 (with Allow)
            failures.append(f"{r['method']} {template}: method not in the spec, answered {r['status']} (expected 405)")
            continue
        operation = {"responses": {}}
    status = str(r["status"])
    if status not in operation["responses"]:
        if r["status"] in (401, 402, 403, 404, 405, 413, 503, 504):  # cross-cutting answers: always the Error schema
            schema_ref = {"$ref": "urn:spec#/components/schemas/Error"}
        else:
            failures.append(f"{r['method']} {template}: status {status} is not documented")
            continue
    elif "content" not in resolve(operation["responses"][status]):
        # A response documented without a body (204): it must come without one.
        if r["body"] not in (None, "", {}):
            failures.append(f"{r['method']} {template} {status}: documented without a body, answered {r['body']!r}")
        checked += 1
        continue
    else:
        response = resolve(operation["responses"][status])
        ref = "urn:spec#/" + pointer("paths", template, r["method"].lower(), "responses", status)
        if "$ref" in operation["responses"][status]:
            ref = "urn:spec" + operation["responses"][status]["$ref"]
        schema_ref = {"$ref": ref + "/" + pointer("content", "application/json", "schema")}
    errors = sorted(OAS31Validator(schema_ref, registry=registry).iter_errors(r["body"]), key=str)
    if errors:
        failures.append(f"{r['method']} {template} {status}: {errors[0].message}")
    checked += 1

print(f"openapi: {checked} recorded responses checked against {spec_path}")
for f in failures:
    print("  FAIL", f)
if checked == 0:
    print("openapi: no responses were recorded")
    sys.exit(1)
print(f"{checked - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
