# The one door to every test (`make test`) and every benchmark (`make bench`).
.PHONY: run test test-under-load chaos cluster-test api-fuzz api-fuzz-long lint format bench redis-footprint stack-start stack-stop stack-status build clean

run:
	scripts/run-stack.sh

test:
	scripts/test.sh

# make test with both cores loaded by stress-ng (not part of CI: it is the check that make test holds there)
test-under-load:
	scripts/test-under-load.sh

# Faults injected into real work over 2,000 simulated hosts, invariants checked (on demand, not in CI).
chaos:
	scripts/chaos.sh

# Two replicas of every service on a 3-node RabbitMQ cluster and a 6-node Redis Cluster, a node of
# each SIGKILLed under 5,000 hosts' work (on demand, not in CI; README "Scaling out").
cluster-test:
	scripts/cluster-test.sh

# schemathesis with 100 examples per operation and every phase (on demand, not in CI).
api-fuzz-long:
	FLEET_FUZZ_PHASES=examples,coverage,fuzzing,stateful scripts/api-fuzz.sh 100

# schemathesis against a stack of its own (make test runs it with 10 examples per operation).
api-fuzz:
	scripts/api-fuzz.sh

bench:
	scripts/bench.sh

# What Redis holds per host and per host of a finished operation (README, "Sizing Redis").
redis-footprint:
	scripts/redis-footprint.sh

# swift-format (ships with the toolchain) with the repository's .swift-format; CI runs lint.
lint:
	swift format lint --strict --recursive --parallel Shared Services Tests

format:
	swift format format --in-place --recursive --parallel Shared Services Tests

build:
	swift build

stack-start:
	scripts/stack.sh start

stack-stop:
	scripts/stack.sh stop

stack-status:
	scripts/stack.sh status

clean:
	swift package clean
