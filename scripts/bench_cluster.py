#!/usr/bin/env python3
"""One figure of `make bench` on the local clusters: POST /bulk over every host of a simulated
zero-latency fleet, to the last result, through the gateway at BENCH_GATEWAY_URL. Prints one fact
line (`{"name", "value", "unit", "count"}`) as fleet-gateway-bench does.
  bench_cluster.py NAME PREFIX COUNT        (BENCH_TOKEN: an admin token)
"""
import json
import os
import sys
import time
import urllib.request

name, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
base, token = os.environ["BENCH_GATEWAY_URL"], os.environ["BENCH_TOKEN"]


def call(method, path, body=None):
    req = urllib.request.Request(base + "/api/v1/fleet/" + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


deadline = time.time() + 600
while call("POST", "select", {"tags": [prefix]}).get("count") != count:
    if time.time() > deadline:
        sys.exit(f"the simulated fleet {prefix} did not register {count} hosts")
    time.sleep(0.5)
start = time.monotonic()
op = call("POST", "bulk", {"operation_type": "reboot", "selector": {"tags": [prefix]}})["id"]
while True:
    progress = call("GET", f"bulk/{op}/progress")
    if progress.get("succeeded") == count:
        break
    if progress.get("failed"):
        sys.exit(f"hosts failed in the benchmark: {progress}")
    time.sleep(0.02)
seconds = time.monotonic() - start
print(f"{name}: bulk over {count} simulated zero-latency hosts on the clusters, POST /bulk to the last result: "
      f"{seconds:.2f} s ({count / seconds:.0f} hosts/s)", file=sys.stderr)
print(json.dumps({"name": name, "value": round(seconds, 3), "unit": "s", "count": count}))
