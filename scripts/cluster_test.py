#!/usr/bin/env python3
"""`make cluster-test`: two replicas of every service on a 3-node RabbitMQ cluster and a 6-node
Redis Cluster (scripts/cluster.sh), real work over 5,000 simulated hosts, and two faults under it:
a SIGKILL of the RabbitMQ node every service is connected to, then of a Redis primary (its replica
is promoted). Then the invariants: every host of every operation terminal and counted once, every
minute's fire of a schedule exactly once, and no service process restarted (all still the ones
started). Prints one line per check and exits 1 when any fails.
Environment: FLEET_BIN_DIR, FLEET_RUN_DIR, CLUSTER_HOSTS (5000), CLUSTER_WAIT_S (how long the work
may take to finish after the faults, 600).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from harness import RespError, eventually, host_counts, read_reply, resp_command, stop_processes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ["FLEET_BIN_DIR"]
RUN = os.environ.get("FLEET_RUN_DIR", os.path.join(ROOT, ".run"))
HOSTS = int(os.environ.get("CLUSTER_HOSTS", "5000"))
WAIT_S = int(os.environ.get("CLUSTER_WAIT_S", "600"))
GATEWAY_PORTS = [18291, 18292]
SERVICES = ["fleet-selector", "fleet-groups", "fleet-bulk-dispatcher", "fleet-rollout-controller", "fleet-scheduler"]
TERMINAL = {"succeeded", "failed", "skipped"}
CLUSTER = os.path.join(ROOT, "scripts", "cluster.sh")
CLUSTER_DIR = os.path.join(RUN, "cluster")
LOGS = os.path.join(RUN, "cluster-test-logs")


def log(msg):
    print(f"[cluster-test] {msg}", file=sys.stderr, flush=True)


def sh(*args, env=None):
    return subprocess.run(args, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout


def urls():
    out = dict(line.split("=", 1) for line in sh(CLUSTER, "urls").split())
    return out["FLEET_AMQP_URL"], out["FLEET_REDIS_URL"]


# --- Redis Cluster reads for the audit: a minimal RESP client that follows MOVED ---
class Redis:
    def __init__(self, seeds):
        self.seeds = seeds

    def call(self, *args, node=None):
        targets = [node] if node else self.seeds
        for _ in range(6):
            for host, port in targets:
                try:
                    reply = self._once((host, port), args)
                except OSError:
                    continue
                if isinstance(reply, RespError) and (str(reply).startswith("MOVED") or str(reply).startswith("ASK")):
                    h, p = str(reply).split()[2].rsplit(":", 1)
                    targets = [(h, int(p))]
                    break
                if isinstance(reply, RespError):
                    raise reply
                return reply
            else:
                time.sleep(0.5)
                targets = self.seeds
        raise ConnectionError(f"no node answered {args[0]}")

    def _once(self, address, args):
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(resp_command(*args))
            return read_reply(sock.makefile("rb"))

    def hgetall(self, key):
        flat = self.call("HGETALL", key) or []
        return dict(zip(flat[::2], flat[1::2]))


# --- processes ---
class Stack:
    def __init__(self, amqp, redis):
        os.makedirs(LOGS, exist_ok=True)
        self.env = dict(os.environ, FLEET_AMQP_URL=amqp, FLEET_REDIS_URL=redis, FLEET_METRICS_PORT="0", FLEET_LOG_LEVEL="info",
                        FLEET_RECONCILE_INTERVAL_MS="2000")
        self.procs = {}

    def start(self, name, args=(), env=None):
        out = open(os.path.join(LOGS, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen([os.path.join(BIN, name.split("#")[0]), *args], env=env or self.env, stdout=out,
                                            stderr=subprocess.STDOUT)

    def exited(self):
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def stop_all(self):
        stop_processes(list(self.procs.values()), grace=20)


calls = 0


def http(method, path, body=None, token=None, timeout=30):
    """Through the gateways in turn; a gateway that does not answer (its broker node just died) is
    asked again on the other."""
    global calls
    for attempt in range(len(GATEWAY_PORTS)):
        port = GATEWAY_PORTS[(calls + attempt) % len(GATEWAY_PORTS)]
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/fleet/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                calls += 1
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            calls += 1
            if e.code < 500:
                return e.code, json.loads(e.read() or b"null")
        except (urllib.error.URLError, OSError, TimeoutError):
            pass
    return 0, None


def audit(redis, op):
    statuses = redis.hgetall(f"fleet:bulk:{{{op}}}:hosts")
    progress = redis.hgetall(f"fleet:bulk:{{{op}}}:progress")
    counts, twice = host_counts(statuses, progress)
    # Failed for a reason other than the simulated exit code: the faults lost it.
    lost = sum(1 for value in statuses.values() if value.partition(":")[0] == "failed" and value.partition(":")[2] != "exit_code")
    return {"hosts": len(statuses), "terminal": sum(counts[s] for s in TERMINAL), "twice": twice, "counts": counts,
            "lost": lost, "status": progress.get("status")}


def main():
    amqp, redis_url = urls()
    seeds = [(h, int(p)) for h, p in (n.rsplit(":", 1) for n in redis_url.split("://", 1)[1].split(","))]
    redis = Redis(seeds)
    for node in seeds:  # a fresh keyspace: FLUSHDB on every primary (replicas refuse it, harmlessly)
        try:
            redis.call("FLUSHDB", node=node)
        except Exception:
            pass
    stack = Stack(amqp, redis_url)
    failures = []

    def check(ok, what):
        log(("ok    " if ok else "FAILED ") + what)
        if not ok:
            failures.append(what)

    try:
        for name in SERVICES:
            for replica in (1, 2):
                stack.start(f"{name}#{replica}")
        for i, port in enumerate(GATEWAY_PORTS):
            stack.start(f"fleet-gateway#{i + 1}", env=dict(stack.env, FLEET_GATEWAY_PORT=str(port)))
        token = sh(os.path.join(BIN, "fleet-gateway"), "create-token", "--scope", "admin", "--name", "cluster-test",
                   env=stack.env).strip().splitlines()[-1]
        assert eventually(lambda: all(http("GET", "hosts?limit=1", token=token, timeout=2)[0] == 200 for _ in GATEWAY_PORTS), 120), \
            "the gateways never answered"
        # The agents' queue is a classic queue, on the node its agent connects to: the last node
        # first, so the node killed (the first, which every service is on) is not the one holding it.
        agent_amqp = ",".join(reversed(amqp.split(",")))
        stack.start("fleet-agent", ["--simulate", str(HOSTS), "--prefix", "ct", "--latency-ms", "4000", "--latency-jitter-ms", "3000",
                                    "--fail-every", "100"], env=dict(stack.env, FLEET_AMQP_URL=agent_amqp))
        # And 20 more for the schedule, which fires every minute across the faults.
        stack.start("fleet-agent#schedule", ["--simulate", "20", "--prefix", "cts", "--latency-ms", "200"], env=dict(stack.env, FLEET_AMQP_URL=agent_amqp))
        for tag, count in (("ct", HOSTS), ("cts", 20)):
            assert eventually(lambda: http("POST", "select", {"tags": [tag]}, token, timeout=10)[1].get("count") == count, 120), \
                f"the simulated hosts {tag} never all registered"

        status, op = http("POST", "bulk", {"operation_type": "run_script", "selector": {"tags": ["ct"]}, "concurrency": 1000,
                                           "delivery_timeout_seconds": 240, "parameters": {"content": "true", "timeout_seconds": 60}}, token)
        assert status == 201, (status, op)
        status, rollout = http("POST", "rolling", {"operation_type": "reboot", "selector": {"tags": ["ct"]}, "batch_size": 1000,
                                                   "failure_threshold_pct": 10, "delivery_timeout_seconds": 240}, token)
        assert status == 201, (status, rollout)
        status, schedule = http("POST", "schedules", {"name": "every minute", "cron": "* * * * *", "operation_type": "reboot",
                                                      "selector": {"tags": ["cts"]}, "overlap_policy": "allow",
                                                      "delivery_timeout_seconds": 240}, token)
        assert status == 201, (status, schedule)
        started = time.time()
        log(f"work: bulk {op['id']}, rollout {rollout['id']}, schedule {schedule['id']}")

        time.sleep(8)
        rabbit_pid = int(open(os.path.join(CLUSTER_DIR, "rabbit1", "rabbitmq", "rabbitmq.pid")).read().strip())
        log(f"SIGKILL of RabbitMQ node 1 (pid {rabbit_pid}), the one every service is connected to")
        os.kill(rabbit_pid, signal.SIGKILL)
        time.sleep(20)
        primary = sh(CLUSTER, "kill-redis-primary").strip().splitlines()[-1]
        log(f"SIGKILL of the Redis primary on port {primary}")
        time.sleep(15)
        log("RabbitMQ node 1 and the Redis node started again (they rejoin their clusters)")
        sh(CLUSTER, "start-rabbitmq", "1")
        sh(CLUSTER, "start-redis-node", primary)

        ops = {"bulk": op["id"]}

        def done():
            if "rollout" not in ops:
                s, r = http("GET", f"rolling/{rollout['id']}", token=token, timeout=10)
                if s != 200 or not r.get("bulk_operation_id"):
                    return False
                ops["rollout"] = r["bulk_operation_id"]
            return all(audit(redis, o)["terminal"] == HOSTS for o in ops.values())

        finished = eventually(done, WAIT_S, interval=2)
        seconds = time.time() - started
        # Schedules: no minute fired twice, none skipped since the schedule was made.
        http("PATCH", f"schedules/{schedule['id']}", {"enabled": False}, token)
        _, runs = http("GET", f"schedules/{schedule['id']}/runs", token=token)
        fires = [r["fire_at"] for r in (runs or {}).get("runs", []) if r.get("trigger") == "cron"]
        minutes = int(seconds // 60)

        check(finished, f"the bulk operation and the rollout finished within {WAIT_S} s of the faults ({seconds:.0f} s from create)")
        for name, o in ops.items():
            a = audit(redis, o)
            check(a["hosts"] == HOSTS and a["terminal"] == HOSTS, f"{name} {o}: {a['terminal']} of {a['hosts']} hosts terminal ({a['counts']})")
            check(a["twice"] == 0, f"{name} {o}: every host counted once (progress matches the host records; off by {a['twice']})")
            check(a["lost"] == 0, f"{name} {o}: no host failed but by its simulated exit code (every 100th): {a['lost']} did")
        check(len(fires) == len(set(fires)), f"schedule: {len(fires)} cron fires, each instant once: {sorted(fires)}")
        check(len(fires) >= max(1, minutes - 1), f"schedule: a fire for each minute it was enabled ({len(fires)} fires in {seconds:.0f} s)")
        exited = stack.exited()
        check(not exited, f"no service exited or was restarted ({exited or 'all running since the start'})")
    finally:
        stack.stop_all()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
