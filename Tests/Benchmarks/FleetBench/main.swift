// Raw FleetBus and FleetStore throughput, printed as `name value unit` lines for scripts/bench.sh,
// which puts them beside baselines (Python pika, redis-benchmark) measured in the same run.
import FleetBus
import FleetStore
import Foundation

let env = ProcessInfo.processInfo.environment
let amqpURL = env["FLEET_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
let redisURL = env["FLEET_REDIS_URL"] ?? "redis://127.0.0.1:6379/0"
let messages = Int(env["BENCH_MESSAGES"] ?? "") ?? 20_000
let clock = ContinuousClock()

func rate(_ count: Int, _ elapsed: Duration) -> Double {
    Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

func report(_ name: String, _ count: Int, _ elapsed: Duration) {
    print(String(format: "%@ %.0f msg/s", name, rate(count, elapsed)))
}

let amqp = try await AMQPConnection.connect(url: amqpURL, name: "bench")
let queue = "bench.fleetbus.\(getpid())"
try await amqp.declare(Topology(queues: [QueueDeclaration(name: queue, durable: true, autoDelete: true)]))
let body = [UInt8](repeating: 120, count: 256)
let message = OutgoingMessage(exchange: "", routingKey: queue, body: body)

// One publish, one confirm wait: the pika BlockingConnection baseline does the same.
let single = messages / 10
report(
    "fleetbus.publish_confirm_each", single,
    try await clock.measure {
        for _ in 0..<single { try await amqp.publish(message) }
    })

for batch in [100, 1000] {
    let elapsed = await clock.measure {
        for _ in 0..<(messages / batch) {
            let results = await amqp.publish(batch: Array(repeating: message, count: batch))
            precondition(results.allSatisfy { (try? $0.get()) != nil }, "unconfirmed publish in benchmark")
        }
    }
    report("fleetbus.publish_confirm_batch_\(batch)", messages, elapsed)
}

// Consume what the batches left (2 x messages), acking each.
let toConsume = 2 * messages + single
let consumer = try await amqp.consume(queue: queue, prefetch: 500)
var consumed = 0
report(
    "fleetbus.consume_ack_each", toConsume,
    await clock.measure {
        for await d in consumer {
            d.ack()
            consumed += 1
            if consumed == toConsume { break }
        }
    })
consumer.cancel()
await amqp.close()

let redis = try await RedisClient.connect(url: redisURL, poolSize: 1)
let key = "bench:fleetstore:\(getpid())"
let roundTrips = messages
report(
    "fleetstore.set_round_trip", roundTrips,
    try await clock.measure {
        for i in 0..<roundTrips { _ = try await redis.send("SET", key, String(i)) }
    })
let pipelined = messages * 10
report(
    "fleetstore.set_pipeline_100", pipelined,
    try await clock.measure {
        for _ in 0..<(pipelined / 100) {
            _ = try await redis.pipeline((0..<100).map { RedisCommand("SET", key, String($0)) })
        }
    })
_ = try await redis.send("DEL", key)
redis.close()
