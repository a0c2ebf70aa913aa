"""Turns one `make bench` run into .run/bench-results.json and a table.

usage: bench_report.py RESULTS_TXT FACTS_JSONL OUT_JSON

RESULTS_TXT holds `name value unit` lines from fleet-bench, pika and redis-benchmark (several runs:
the median of each is taken). FACTS_JSONL holds one JSON fact per line (`{"name", "value", "unit"}`,
maybe "count") from fleet-gateway-bench, fleet-core-bench, the PostgreSQL baseline, wrk and the
RSS readings. Each entry of the output is `{"name", "ours", "baseline", "unit", "ratio"}` plus the
baseline's name, the goal and whether it was met; `ratio` always reads "higher is better for us"
(baseline time / our time, or our rate / baseline rate). A figure that is missing from the run
makes its entry's `ours` null: nothing is carried over from another run.
"""
import json
import statistics
import sys
from collections import defaultdict

txt_path, facts_path, out_path = sys.argv[1:4]

samples = defaultdict(list)
for line in open(txt_path):
    parts = line.split()
    if len(parts) >= 2:
        try:
            samples[parts[0]].append(float(parts[1]))
        except ValueError:
            pass
medians = {k: statistics.median(v) for k, v in samples.items()}

facts, counts = {}, {}
for line in open(facts_path):
    line = line.strip()
    if not line:
        continue
    f = json.loads(line)
    facts[f["name"]] = f["value"]
    if "count" in f:
        counts[f["name"]] = f["count"]


def get(name):
    return medians.get(name, facts.get(name))


entries = []


def entry(name, ours, baseline, unit, baseline_name, *, time=False, goal=None, met=None, note=None):
    """time: smaller is better (ratio = baseline / ours); else a rate (ratio = ours / baseline)."""
    ratio = None
    if ours is not None and baseline is not None and ours > 0 and baseline > 0:
        ratio = baseline / ours if time else ours / baseline
    e = {"name": name, "ours": ours, "baseline": baseline, "unit": unit, "ratio": ratio, "baseline_is": baseline_name}
    if goal is not None:
        e["goal"] = goal
        e["met"] = None if ours is None else bool(met(ours, ratio))
    if note:
        e["note"] = note
    entries.append(e)


def at_least(x, limit):
    return x is not None and x >= limit


for size in ["10k", "50k"]:
    ours, ceiling = get(f"bulk_{size}.ours"), get(f"bulk_{size}.ceiling")
    hosts = counts.get(f"bulk_{size}.ours")
    rate = hosts / ours if ours and hosts else None
    entry(
        f"bulk_{size}", ours, ceiling, "s", "raw ceiling: 2 x N messages + N Redis scripts", time=True,
        goal=">= 0.5 of the ceiling and >= 3,000 hosts/s",
        met=lambda o, r, rate=rate: at_least(r, 0.5) and at_least(rate, 3000),
        note=None if rate is None else f"{rate:.0f} hosts/s",
    )

# Host locks' price: the 10,000-host bulk with locks (as every operation runs by default) beside
# the same hosts with `exclusive: false`, in the same run.
entry("bulk_10k_locks", get("bulk_10k.ours"), get("bulk_10k_unlocked.ours"), "s",
      "the same bulk with exclusive: false (no host locks), same run", time=True)

# The same 10,000-host bulk on the local clusters (scripts/bench-cluster.sh), beside the single-node
# run above (two dispatcher replicas there).
for dispatchers in (1, 2):
    ours = get(f"cluster.bulk_10k.dispatchers_{dispatchers}")
    hosts = counts.get(f"cluster.bulk_10k.dispatchers_{dispatchers}")
    entry(f"bulk_10k_cluster_{dispatchers}_dispatcher{'s' if dispatchers > 1 else ''}", ours, get("bulk_10k.ours"), "s",
          "bulk_10k: one RabbitMQ and one Redis, two dispatchers, same run", time=True,
          note=None if not ours or not hosts else f"{hosts / ours:.0f} hosts/s")

q1_in = get("select.q1.inprocess_p50")
entry("select_gateway_100k", get("select.q1.gateway_p50"), q1_in, "ms", "in-process resolve p50", time=True,
      goal="p50 <= 2x in-process", met=lambda o, r: at_least(r, 0.5))
entry("select_bus_100k", get("select.q1.bus_p50"), q1_in, "ms", "in-process resolve p50", time=True)
entry("select_inprocess_100k", q1_in, get("select.full_scan_100k"), "ms", "full scan of every host, every clause", time=True)
for q in ["q1", "q2", "q3", "q4", "q5"]:
    pg = get(f"pg.{q}")
    ours_count, pg_count = counts.get(f"select.{q}.gateway_p50"), counts.get(f"pg.{q}")
    agree = ours_count is not None and ours_count == pg_count
    note = f"{ours_count} hits" if agree else f"HIT COUNTS DISAGREE: ours {ours_count}, PostgreSQL {pg_count}"
    entry(f"select_pg_{q}", get(f"select.{q}.gateway_p50"), pg, "ms", "PostgreSQL 15 median, same hosts and indexes", time=True,
          note=note, **({"goal": ">= 10x PostgreSQL", "met": lambda o, r: at_least(r, 10)} if q == "q1" else {}))
    entry(f"select_pg_{q}_inprocess", get(f"select.{q}.inprocess_p50"), pg, "ms", "PostgreSQL 15 median", time=True)

entry("create_small", get("create_small.ours"), get("create_small.round_trips"), "creates/s",
      "bulk.get round trips, same concurrency", goal=">= 3,000/s", met=lambda o, r: o >= 3000)
entry("schedule_fire_lag_p99", get("schedule_fire_lag.p99"), get("schedule_fire_lag.direct_creates"), "s",
      "the same bulk.create calls straight onto the bus (total)", time=True, goal="<= 5 s", met=lambda o, r: o <= 5)
entry("rollout_gap_p50", get("rollout_gap.p50"), get("rollout_gap.dispatch_p50"), "ms", "one bulk.dispatch round trip p50",
      time=True, goal="<= 3 ms", met=lambda o, r: o <= 3)
entry("store_round_trip", get("fleetstore.set_round_trip"), get("redis-benchmark.set_c1"), "ops/s", "redis-benchmark -c 1",
      goal=">= 0.8", met=lambda o, r: at_least(r, 0.8))
entry("store_pipeline", get("fleetstore.set_pipeline_100"), get("redis-benchmark.set_c1_p100"), "ops/s",
      "redis-benchmark -c 1 -P 100", goal=">= 0.7", met=lambda o, r: at_least(r, 0.7))
p99 = get("progress.p99")
entry("progress_rps", get("progress.rps"), get("progress.redis_hgetall"), "req/s", "redis-benchmark HGETALL, 32 clients",
      goal=">= 10,000 req/s, p99 < 10 ms", met=lambda o, r: o >= 10000 and p99 is not None and p99 < 10,
      note=None if p99 is None else f"p99 {p99:.2f} ms" + (f", {facts['progress.non2xx']:.0f} non-2xx" if "progress.non2xx" in facts else ""))
entry("bus_publish_confirm_each", get("fleetbus.publish_confirm_each"), get("pika.publish_confirm_each"), "msg/s",
      "pika BlockingConnection with confirms")
entry("bus_consume_ack_each", get("fleetbus.consume_ack_each"), get("pika.consume_ack_each"), "msg/s", "pika, prefetch 500")
for name in sorted(k for k in facts if k.startswith("rss.")):
    service = name[4:]
    if service == "selector":
        entry("rss_selector_100k", facts[name], 200, "MiB", "the goal", time=True, goal="< 200 MiB", met=lambda o, r: o < 200)
    else:
        entry(f"rss_{service.replace('-', '_')}", facts[name], None, "MiB", None)
entry("bench_wall_time", get("bench.seconds"), 1200, "s", "the 20-minute budget", time=True, goal="<= 1,200 s", met=lambda o, r: o <= 1200)

with open(out_path, "w") as out:
    json.dump(entries, out, indent=2)
    out.write("\n")


def fmt(x):
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


print(f"\n{'name':26} {'ours':>12} {'baseline':>12} {'unit':>10} {'ratio':>7}  {'goal':34} met  note")
for e in entries:
    met = {True: "yes", False: "NO", None: ""}[e.get("met")] if "goal" in e else ""
    print(f"{e['name']:26} {fmt(e['ours']):>12} {fmt(e['baseline']):>12} {e['unit']:>10} {fmt(e['ratio']):>7}  "
          f"{e.get('goal', ''):34} {met:4} {e.get('note', '')}")
print(f"\nwritten to {out_path}")
