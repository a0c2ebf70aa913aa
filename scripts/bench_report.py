"""Prints the median of each benchmark figure beside its baseline from the same run, as a ratio."""
import statistics
import sys
from collections import defaultdict

values = defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 2:
        values[parts[0]].append(float(parts[1]))
med = {k: statistics.median(v) for k, v in values.items()}

pairs = [
    ("fleetbus.publish_confirm_each", "pika.publish_confirm_each"),
    ("fleetbus.publish_confirm_batch_100", None),
    ("fleetbus.publish_confirm_batch_1000", None),
    ("fleetbus.consume_ack_each", "pika.consume_ack_each"),
    ("fleetstore.set_round_trip", "redis-benchmark.set_c1"),
    ("fleetstore.set_pipeline_100", "redis-benchmark.set_c1_p100"),
]
runs = max(len(v) for v in values.values())
print(f"\nmedian of {runs} runs, msg/s (ratio = ours / baseline, same run)")
print(f"{'benchmark':38} {'ours':>10} {'baseline':>30} {'ratio':>7}")
for ours, base in pairs:
    o = med.get(ours)
    if o is None:
        continue
    if base and base in med:
        print(f"{ours:38} {o:10.0f} {base + ' ' + format(med[base], '.0f'):>30} {o / med[base]:7.2f}")
    else:
        print(f"{ours:38} {o:10.0f} {'-':>30} {'-':>7}")
