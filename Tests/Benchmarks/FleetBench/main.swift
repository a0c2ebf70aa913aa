import FleetBus
let clock = ContinuousClock()
var t = clock.now
let c = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:5672/%2f")
print("connect", clock.now - t); t = clock.now
let client = try await RPCClient.start(on: c)
print("rpc start", clock.now - t); t = clock.now
do { _ = try await client.request(exchange: "", routingKey: "nobody", body: [1], timeout: .seconds(30)) } catch { print(error) }
print("request", clock.now - t); t = clock.now
await c.close()
print("close", clock.now - t); t = clock.now
