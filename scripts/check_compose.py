#!/usr/bin/env python3
"""Checks compose/docker-compose.yml without a Docker engine: Debian's docker-compose validates
it (`config -q`, with the example env file), then this script checks what the file promises:
every container runs exactly a command the local stack script runs, no default credentials,
Redis with AOF and a password kept off its command line, health checks on every service's
/health, services waiting for healthy dependencies, pinned images, Prometheus scraping every
service and Grafana with the dashboard, named volumes for broker and Redis data."""
import re, subprocess, sys, yaml

root = sys.argv[1] if len(sys.argv) > 1 else "."
compose = [
    "docker-compose", "--env-file", f"{root}/compose/.env.example", "-f", f"{root}/compose/docker-compose.yml", "config",
]
subprocess.run(compose + ["-q"], check=True)
config = yaml.safe_load(subprocess.run(compose, check=True, capture_output=True, text=True).stdout)
local = subprocess.run([f"{root}/scripts/run-stack.sh", "commands"], check=True, capture_output=True, text=True).stdout.split("\n")
local = sorted(line for line in local if line.strip())

failures = []
def check(ok, what):
    if not ok:
        failures.append(what)

services = config["services"]
fleet = {name: s for name, s in services.items() if s.get("image") == "fleet-engine:local"}
commands = sorted(" ".join(s["command"]) for s in fleet.values())
check(commands == local, f"container commands {commands} != run-stack.sh commands {local}")
agents = {name for name, s in fleet.items() if "--no-register" in s["command"]}
check(len(agents) == 1, f"one enrolled simulated fleet expected, found {sorted(agents)}")
for name, s in fleet.items():
    env = s.get("environment", {})
    deps = s.get("depends_on", {})
    if name in agents:
        # An agent is untrusted: its own broker user from a file, and no credential of the services.
        check(set(env) <= {"FLEET_AMQP_URL_FILE", "FLEET_LOG_LEVEL"}, f"{name}: the agent sees more than its URL file: {sorted(env)}")
        check("FLEET_AMQP_URL_FILE" in env, f"{name}: no FLEET_AMQP_URL_FILE")
        check(all(deps.get(d, {}).get("condition") == "service_completed_successfully" for d in ("agent-sim-register", "agent-sim-enroll")),
              f"{name}: does not wait for its registration and enrollment")
        continue
    check("guest" not in env.get("FLEET_AMQP_URL", "guest"), f"{name}: AMQP URL uses guest or is missing")
    check(env.get("FLEET_REDIS_URL", "").startswith("redis://:"), f"{name}: Redis URL without a password")
    check(("FLEET_RABBITMQ_MANAGEMENT_URL" in env) == (s["command"][0] == "fleet-gateway"),
          f"{name}: the management API's credentials belong to the gateway only")
    check(all(deps.get(d, {}).get("condition") == "service_healthy" for d in ("rabbitmq", "redis")),
          f"{name}: does not wait for healthy rabbitmq and redis")
rabbit, redis = services["rabbitmq"], services["redis"]
check(rabbit["image"].endswith("-management"), "rabbitmq: no management plugin image")
check(rabbit["environment"]["RABBITMQ_DEFAULT_USER"] != "guest", "rabbitmq: default user guest")
# Redis: AOF and a password, the password in a config file, never on redis-server's command line.
redis_command = " ".join(redis["command"])
password = next(l.split("=", 1)[1] for l in open(f"{root}/compose/.env.example") if l.startswith("FLEET_REDIS_PASSWORD="))
check("appendonly yes" in redis_command and "requirepass" in redis_command and "redis-server /tmp/redis.conf" in redis_command,
      "redis: AOF, password or config file missing")
check(password.strip() not in redis_command, "redis: the password is on the command line")

# Every long-running container has a healthcheck; each Fleet service's asks /health on its metrics
# port (the one compose/prometheus.yml scrapes), and what depends on them waits for them healthy.
metrics_ports = {"selector": "9101", "groups": "9102", "bulk-dispatcher": "9103", "rollout-controller": "9104", "scheduler": "9105", "gateway": "8080"}
for name in ("rabbitmq", "redis", *metrics_ports):
    check("healthcheck" in services[name], f"{name}: no healthcheck")
for name, port in metrics_ports.items():
    test = " ".join(services[name].get("healthcheck", {}).get("test", []))
    check("/health" in test and services[name]["environment"].get("FLEET_HEALTH_PORT") == port, f"{name}: the healthcheck does not ask /health on {port}")
gateway_deps = services["gateway"].get("depends_on", {})
check(all(gateway_deps.get(n, {}).get("condition") == "service_healthy" for n in metrics_ports if n != "gateway"),
      "gateway: does not wait for every service healthy")
check(services["agent-sim-register"].get("depends_on", {}).get("selector", {}).get("condition") == "service_healthy",
      "agent-sim-register: does not wait for the selector")

# The obsolete top-level `version:` is gone; images are pinned to a release (no floating tags).
raw = yaml.safe_load(open(f"{root}/compose/docker-compose.yml"))
check("version" not in raw, "compose: the obsolete top-level version key")
for name, s in services.items():
    image = s.get("image", "")
    tag = image.rsplit(":", 1)[1] if ":" in image else ""
    check(image == "fleet-engine:local" or re.match(r"^v?\d+\.\d+\.\d+", tag), f"{name}: image {image} is not pinned to a release")
check("rabbitmq:3.10.8-management" == rabbit["image"] and redis["image"] == "redis:7.0.15", "the broker and Redis images are not the tested versions")

# Prometheus scrapes each service's metrics port; Grafana gets the dashboard and the datasource.
prometheus = yaml.safe_load(open(f"{root}/compose/prometheus.yml"))
targets = {t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
check(targets == {f"{n}:{p}" for n, p in metrics_ports.items()}, f"prometheus.yml targets {sorted(targets)}")
check(any("prometheus.yml" in str(v) for v in services.get("prometheus", {}).get("volumes", [])), "prometheus: no scrape config mounted")
grafana_volumes = " ".join(str(v) for v in services.get("grafana", {}).get("volumes", []))
check("fleet-dashboard.json" in grafana_volumes and "provisioning" in grafana_volumes, "grafana: dashboard or provisioning not mounted")
dockerfile = open(f"{root}/compose/Dockerfile").read()
check(" fleetctl;" in dockerfile and "FleetEngine_GatewayService.resources" in dockerfile, "Dockerfile: fleetctl or the gateway's resources not in the image")
check(set(config.get("volumes", {})) >= {"rabbitmq-data", "redis-data"}, "named volumes for broker and Redis data missing")
check(any(v.endswith(":/var/lib/rabbitmq") or "/var/lib/rabbitmq" in str(v) for v in rabbit.get("volumes", [])), "rabbitmq data not on a volume")
check(any("/data" in str(v) for v in redis.get("volumes", [])), "redis data not on a volume")

# The dead-letter cap: the same policy as scripts/stack.sh applies.
import re
stack = open(f"{root}/scripts/stack.sh").read()
policy = re.search(r"DEAD_LETTER_POLICY='([^']+)'", stack).group(1)
job = services.get("rabbitmq-policies", {}).get("command", [])
# `config` prints the file's `$$` (a literal `$`) as it stands.
check(job[-1:] == [policy] and "fleet-dead-cap" in job and any(a.replace("$$", "$") == "^fleet\\.dead$" for a in job),
      f"rabbitmq-policies: does not set {policy} on fleet.dead: {job}")

# The cluster profile (docker-compose.cluster.yml, layered on the file above): valid, every service
# given the three broker nodes and the Redis Cluster, and waiting for the cluster to be made.
layered = compose[:-1] + ["-f", f"{root}/compose/docker-compose.cluster.yml", "config"]
subprocess.run(layered + ["-q"], check=True)
cluster = yaml.safe_load(subprocess.run(layered, check=True, capture_output=True, text=True).stdout)["services"]
check({"rabbitmq-2", "rabbitmq-3", "redis-cluster-create"} <= set(cluster) and sum(n.startswith("redis-") and n[6:].isdigit() for n in cluster) == 6,
      "cluster profile: three broker nodes, six Redis nodes and the job that makes the cluster expected")
for name, s in cluster.items():
    if s.get("image") != "fleet-engine:local" or "--no-register" in s.get("command", []):
        continue
    env, deps = s.get("environment", {}), s.get("depends_on", {})
    check(env.get("FLEET_AMQP_URL", "").count("amqp://") == 3, f"cluster profile: {name} is not given the three broker nodes")
    check(env.get("FLEET_REDIS_URL", "").startswith("redis+cluster://:"), f"cluster profile: {name} is not given the Redis Cluster, with its password")
    check(deps.get("redis-cluster-create", {}).get("condition") == "service_completed_successfully",
          f"cluster profile: {name} does not wait for the Redis Cluster to be made")
for node in ("rabbitmq", "rabbitmq-2", "rabbitmq-3"):
    check(any("20-cluster.conf" in str(v) for v in cluster[node].get("volumes", [])) and "RABBITMQ_ERLANG_COOKIE" in cluster[node]["environment"],
          f"cluster profile: {node} lacks the peer list or the shared cookie")

if failures:
    print("compose: " + "\n  ".join(["FAILED"] + failures))
    sys.exit(1)
print(f"compose: docker-compose config valid; {len(fleet)} service containers run the local stack's commands; the cluster profile too")
