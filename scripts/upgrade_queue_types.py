#!/usr/bin/env python3
"""Removes the classic service queues a broker kept from before they became quorum queues.

A declare with `x-queue-type=quorum` of a queue that exists as a classic one fails with
PRECONDITION_FAILED, so a service could not start on a vhost an earlier version made. For each
vhost named: an empty classic `fleet.svc.*` or `fleet.dead` is deleted (its service declares it
again); in a scratch vhost (the tests', the benchmark's, the fuzzer's and chaos's own ones) a
non-empty one is deleted too. Anywhere else a non-empty one is left alone and the exit status is 1: drain it
first (stop its producers, let its service empty it), since deleting it would lose its messages.

  upgrade_queue_types.py MANAGEMENT_URL VHOST...
"""
import base64
import json
import re
import sys
import urllib.parse
import urllib.request

SERVICE_QUEUE = re.compile(r"^fleet\.(svc\..+|dead)$")
SCRATCH_VHOST = re.compile(r"^(fleet-(test|bench|footprint|fuzz)|chaos-)")


def request(base, method, path):
    parts = urllib.parse.urlsplit(base)
    url = f"{parts.scheme}://{parts.hostname}:{parts.port}{path}"
    req = urllib.request.Request(url, method=method)
    token = f"{urllib.parse.unquote(parts.username or 'guest')}:{urllib.parse.unquote(parts.password or 'guest')}"
    req.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as reply:
        body = reply.read()
    return json.loads(body) if body else None


def main():
    base, vhosts = sys.argv[1], sys.argv[2:]
    status = 0
    for vhost in vhosts:
        quoted = urllib.parse.quote(vhost, safe="")
        queues = request(base, "GET", f"/api/queues/{quoted}?columns=name,type,messages")
        for q in queues:
            if q.get("type") != "classic" or not SERVICE_QUEUE.match(q["name"]):
                continue
            held = q.get("messages") or 0
            if held and not SCRATCH_VHOST.match(vhost):
                print(f"[fleet] vhost {vhost}: classic queue {q['name']} holds {held} messages; "
                      "drain it, then start again (it becomes a quorum queue)", file=sys.stderr)
                status = 1
                continue
            request(base, "DELETE", f"/api/queues/{quoted}/{urllib.parse.quote(q['name'], safe='')}")
            print(f"[fleet] vhost {vhost}: classic queue {q['name']} deleted ({held} messages); "
                  "its service declares it again as a quorum queue", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
