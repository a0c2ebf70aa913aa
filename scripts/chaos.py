#!/usr/bin/env python3
"""`make chaos`: real work over 2,000 simulated hosts, one fault injected mid-work, then the
invariants of docs/crash-points.md checked on every operation. Prints one row per scenario and
exits 1 when any invariant breaks.

Each scenario gets a vhost and a Redis database of its own on a broker and a Redis of their own
(scripts/chaos.sh starts them on ports apart from the dev and test stacks), fresh service
processes, and the same work: a bulk `run_script` over all 2,000 hosts with `concurrency: 500`, a
rollout of four batches over 400 of them, and three schedules over another 400 run at once. The
simulated hosts answer after 1.5 s +- 1 s; every hundredth fails with an exit code, which is the
only failure the fault-free run has. A host is "lost or stuck" when it is not terminal when the
scenario ends, or failed for any reason but its exit code (undeliverable, timed out, lost).

  scripts/chaos.py [SCENARIO...]     all scenarios by default; `--list` names them
Environment: FLEET_BIN_DIR (built services), FLEET_AMQP_PORT, FLEET_REDIS_PORT, FLEET_RUN_DIR,
CHAOS_HOSTS (2000), CHAOS_WAIT_S (how long a scenario may take to finish, 180).
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

import pika

from harness import RespError, eventually, host_counts, read_reply, resp_command, stop_processes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ["FLEET_BIN_DIR"]
AMQP_PORT = int(os.environ["FLEET_AMQP_PORT"])
REDIS_PORT = int(os.environ["FLEET_REDIS_PORT"])
RUN = os.environ["FLEET_RUN_DIR"]
HOSTS = int(os.environ.get("CHAOS_HOSTS", "2000"))
WAIT_S = int(os.environ.get("CHAOS_WAIT_S", "180"))
GATEWAY_PORT = 18190
SERVICES = ["fleet-selector", "fleet-groups", "fleet-bulk-dispatcher", "fleet-rollout-controller", "fleet-scheduler", "fleet-gateway"]
TERMINAL = {"succeeded", "failed", "skipped"}


def log(msg):
    print(f"[chaos] {msg}", file=sys.stderr, flush=True)


# --- Redis: a minimal RESP client (reads only, plus FLUSHDB of the scenario's own database) ---
class Redis:
    def __init__(self, db):
        self.db = db
        self.sock = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=10)
        self.file = self.sock.makefile("rb")
        self._send("SELECT", str(self.db))

    def _send(self, *args):
        self.sock.sendall(resp_command(*args))
        reply = read_reply(self.file)
        if isinstance(reply, RespError):
            raise RuntimeError(str(reply))
        return reply

    def call(self, *args):
        for attempt in range(2):
            try:
                if self.sock is None:
                    self._connect()
                return self._send(*args)
            except (OSError, ConnectionError):
                self.sock = None
                if attempt == 1:
                    raise

    def hgetall(self, key):
        flat = self.call("HGETALL", key) or []
        return dict(zip(flat[0::2], flat[1::2]))


# --- processes ---
class Stack:
    """The services and the simulated fleet of one scenario."""

    def __init__(self, name, db):
        self.name, self.db = name, db
        self.vhost = f"chaos-{name}"
        self.work = os.path.join(RUN, "chaos-logs", name)
        os.makedirs(self.work, exist_ok=True)
        self.env = dict(
            os.environ,
            FLEET_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/{self.vhost}",
            FLEET_REDIS_URL=f"redis://127.0.0.1:{REDIS_PORT}/{db}",
            FLEET_GATEWAY_PORT=str(GATEWAY_PORT),
            FLEET_METRICS_PORT="0",
            FLEET_RECONCILE_INTERVAL_MS="2000",
            FLEET_LOG_LEVEL="info",
        )
        self.procs = {}

    def start(self, name, args=()):
        out = open(os.path.join(self.work, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen([os.path.join(BIN, name), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def start_agent(self):
        self.start("fleet-agent", ["--simulate", str(HOSTS), "--prefix", "chaos", "--latency-ms", "1500", "--latency-jitter-ms", "1000", "--fail-every", "100"])

    def kill9(self, name):
        p = self.procs[name]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self):
        stop_processes(list(self.procs.values()))

    def exited(self):
        return [n for n, p in self.procs.items() if p.poll() is not None]


def http(method, path, body=None, token=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/fleet/{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, None


def sh(*args, env=None, check=True):
    return subprocess.run(args, env=env, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout


def stack_script(action):
    sh(os.path.join(ROOT, "scripts", "stack.sh"), action)


def pid_file(kind):
    return os.path.join(RUN, "rabbitmq", "rabbitmq.pid") if kind == "rabbitmq" else os.path.join(RUN, "redis", "redis.pid")


def server_pid(kind):
    with open(pid_file(kind)) as f:
        return int(f.read().strip())


def amqp(vhost):
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", AMQP_PORT, vhost, pika.PlainCredentials("guest", "guest")))


# --- the work ---
def start_work(token):
    """Creates the work; answers the ids of every bulk operation to check, and a way to find the later ones."""
    status, op = http("POST", "bulk", {
        "operation_type": "run_script", "selector": {"tags": ["chaos"]}, "concurrency": 500, "delivery_timeout_seconds": 120,
        "parameters": {"content": "true", "timeout_seconds": 30}}, token)
    assert status == 201, (status, op)
    status, rollout = http("POST", "rolling", {
        "operation_type": "run_script", "selector": {"tags": ["db"]}, "batch_size": 100, "failure_threshold_pct": 5,
        "delivery_timeout_seconds": 120, "parameters": {"content": "true", "timeout_seconds": 30}}, token)
    assert status == 201, (status, rollout)
    schedules = []
    for i in range(3):
        status, s = http("POST", "schedules", {
            "name": f"chaos-{i}", "cron": "0 0 1 1 *", "operation_type": "run_script", "selector": {"tags": ["cache"]},
            "delivery_timeout_seconds": 120, "parameters": {"content": "true", "timeout_seconds": 30}}, token)
        assert status == 201, (status, s)
        assert http("POST", f"schedules/{s['id']}/run", {}, token)[0] == 201
        schedules.append(s["id"])
    return {"bulk": op["id"], "rollout": rollout["id"], "rollout_op": rollout.get("bulk_operation_id"), "schedules": schedules}


def operations(work, token):
    """Every bulk operation of the work, once the services say what they are (None while unknown)."""
    ops = [work["bulk"]]
    if not work.get("rollout_op"):
        status, r = http("GET", f"rolling/{work['rollout']}", token=token, timeout=5)
        if status != 200 or not r.get("bulk_operation_id"):
            return None
        work["rollout_op"] = r["bulk_operation_id"]
    ops.append(work["rollout_op"])
    for sid in work["schedules"]:
        status, runs = http("GET", f"schedules/{sid}/runs", token=token, timeout=5)
        run = (runs or {}).get("runs", [None])[0] if status == 200 else None
        if not run or not run.get("operation_id"):
            return None
        ops.append(run["operation_id"])
    return ops


def lost(value):
    """A host failed for a reason other than its simulated exit code: the fault lost it."""
    status, _, reason = value.partition(":")
    return status == "failed" and reason != "exit_code"


def audit(redis, op):
    """The invariants of one operation, from the owner's records."""
    statuses = redis.hgetall(f"fleet:bulk:{{{op}}}:hosts")
    progress = redis.hgetall(f"fleet:bulk:{{{op}}}:progress")
    counts, mismatch = host_counts(statuses, progress)
    bad = sum(1 for value in statuses.values() if value.partition(":")[0] not in TERMINAL or lost(value))
    return {"hosts": len(statuses), "terminal": sum(counts[s] for s in TERMINAL), "twice": mismatch, "bad": bad,
            "status": progress.get("status"), "counts": counts}


def finished(redis, ops):
    audits = [audit(redis, op) for op in ops]
    return all(a["hosts"] > 0 and a["terminal"] == a["hosts"] for a in audits)


# --- faults ---
def fault_rabbitmq_kill(stack):
    os.kill(server_pid("rabbitmq"), signal.SIGKILL)
    time.sleep(1)
    stack_script("start-rabbitmq")


def fault_rabbitmq_stop(stack):
    pid = server_pid("rabbitmq")
    os.kill(pid, signal.SIGSTOP)
    time.sleep(25)
    os.kill(pid, signal.SIGCONT)


def fault_redis_kill(stack):
    os.kill(server_pid("redis"), signal.SIGKILL)
    time.sleep(1)
    stack_script("start-redis")


def service_kill(name):
    def fault(stack):
        stack.kill9(name)
        time.sleep(1)
        stack.start(name)
    return fault


def fault_agent_kill(stack):
    stack.kill9("fleet-agent")
    time.sleep(1)
    stack.start_agent()


def fault_poison(stack):
    """Undecodable and ill-shaped commands and results, mixed into the real traffic."""
    conn = amqp(stack.vhost)
    ch = conn.channel()
    bodies = [b"", b"\x00\xff not json", b"[]", b'{"selector": 1}', b'{"op_id": 7}', json.dumps({"a" * 64: "b" * 4096}).encode()]
    keys = ["bulk.create", "bulk.claim", "bulk.cancel", "rolling.create", "schedules.create", "hosts.upsert", "selector.resolve"]
    for i in range(200):
        ch.basic_publish("fleet.commands", keys[i % len(keys)], bodies[i % len(bodies)])
        ch.basic_publish("fleet.from-agents", ["result", "bulk.claim", "hosts.report"][i % 3], bodies[i % len(bodies)])
    conn.close()


def fault_duplicates(stack):
    """For 10 s, every command, claim and result is delivered twice: copies taken off taps on the
    exchanges and published again."""
    conn = amqp(stack.vhost)
    ch = conn.channel()
    taps = {}
    for exchange, keys in [("fleet.from-agents", ["result", "bulk.claim"]), ("fleet.to-agents", [f"chaos-{k}" for k in range(0, HOSTS, 7)])]:
        q = ch.queue_declare("", exclusive=True).method.queue
        for key in keys:
            ch.queue_bind(q, exchange, key)
        taps[q] = exchange
    end = time.time() + 10
    copied = 0
    while time.time() < end:
        for q, exchange in taps.items():
            while True:
                method, props, body = ch.basic_get(q, auto_ack=True)
                if method is None:
                    break
                if (props.headers or {}).get("x-chaos-copy"):
                    continue  # a copy of ours, back through the tap: once is the point
                props.headers = dict(props.headers or {}, **{"x-chaos-copy": 1})
                ch.basic_publish(exchange, method.routing_key, body, props)
                copied += 1
        time.sleep(0.05)
    conn.close()
    log(f"duplicates: {copied} messages delivered twice")


SCENARIOS = {
    "none": None,
    "rabbitmq-sigkill": fault_rabbitmq_kill,
    "rabbitmq-sigstop-25s": fault_rabbitmq_stop,
    "redis-sigkill": fault_redis_kill,
    **{f"{s.removeprefix('fleet-')}-sigkill": service_kill(s) for s in SERVICES},
    "agent-sigkill": fault_agent_kill,
    "poison": fault_poison,
    "duplicates": fault_duplicates,
}


def run(name, db):
    redis = Redis(db)
    redis.call("FLUSHDB")
    stack = Stack(name, db)
    try:
        for s in SERVICES:
            stack.start(s)
        token = sh(os.path.join(BIN, "fleet-gateway"), "create-token", "--scope", "admin", "--name", "chaos", env=stack.env).strip().splitlines()[-1]
        assert eventually(lambda: http("GET", "hosts?limit=1", token=token, timeout=2)[0] == 200, 60), "the gateway never answered"
        stack.start_agent()
        assert eventually(lambda: http("POST", "select", {"tags": ["chaos"]}, token, timeout=5)[1].get("count") == HOSTS, 60), "hosts never registered"
        work = start_work(token)
        started = time.time()
        if SCENARIOS[name]:
            time.sleep(2.5)
            SCENARIOS[name](stack)
        ops = None
        def done():
            nonlocal ops
            ops = ops or operations(work, token)
            return ops is not None and finished(redis, ops)
        eventually(done, WAIT_S, interval=1)
        seconds = time.time() - started
        ops = ops or operations(work, token) or [work["bulk"]]
        audits = [audit(redis, op) for op in ops]
        dead = stack.exited()
        return {
            "scenario": name, "hosts": sum(a["hosts"] for a in audits), "terminal": sum(a["terminal"] for a in audits),
            "twice": sum(a["twice"] for a in audits), "bad": sum(a["bad"] for a in audits), "seconds": seconds,
            "ops": len(ops), "exited": dead, "detail": [(op, a["status"], a["counts"]) for op, a in zip(ops, audits)],
        }
    finally:
        stack.stop_all()


def main():
    names = [a for a in sys.argv[1:] if not a.startswith("-")] or list(SCENARIOS)
    if "--list" in sys.argv:
        print("\n".join(SCENARIOS))
        return 0
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        log(f"unknown scenario(s): {', '.join(unknown)}; --list names them")
        return 2
    rows = []
    for i, name in enumerate(names):
        log(f"scenario {name}")
        row = run(name, db=1 + list(SCENARIOS).index(name))
        log(f"{name}: {row['detail']}")
        rows.append(row)
    print("| scenario | operations | hosts | terminal | counted twice | lost or stuck | seconds to finish |")
    print("|---|---|---|---|---|---|---|")
    failed = False
    for r in rows:
        broken = r["terminal"] != r["hosts"] or r["twice"] or r["bad"] or r["ops"] != 5 or r["exited"]
        failed |= bool(broken)
        note = f" (exited: {', '.join(r['exited'])})" if r["exited"] else ""
        print(f"| {r['scenario']}{note} | {r['ops']} | {r['hosts']} | {r['terminal']} | {r['twice']} | {r['bad']} | {r['seconds']:.0f} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
