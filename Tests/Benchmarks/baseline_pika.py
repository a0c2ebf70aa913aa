"""Baseline for FleetBus: the same publish-with-confirm and consume-with-ack work through Python pika."""
import os
import sys
import time

import pika

url, messages = sys.argv[1], int(sys.argv[2])
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
queue = f"bench.pika.{os.getpid()}"
ch.queue_declare(queue, durable=True, auto_delete=True)
ch.confirm_delivery()
body = b"x" * 256
props = pika.BasicProperties(delivery_mode=2)

single = messages // 10
start = time.perf_counter()
for _ in range(single):
    ch.basic_publish("", queue, body, properties=props)  # blocks until confirmed
print(f"pika.publish_confirm_each {single / (time.perf_counter() - start):.0f} msg/s")

ch.basic_qos(prefetch_count=500)
consumed = 0
start = time.perf_counter()
for method, _, _ in ch.consume(queue, inactivity_timeout=10):
    if method is None:
        break
    ch.basic_ack(method.delivery_tag)
    consumed += 1
    if consumed == single:
        break
print(f"pika.consume_ack_each {consumed / (time.perf_counter() - start):.0f} msg/s")
ch.cancel()
conn.close()
