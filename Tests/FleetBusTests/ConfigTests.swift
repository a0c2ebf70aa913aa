import Testing

@testable import FleetBus

@Suite("AMQP URL and backoff")
struct ConfigTests {
    @Test func parsesFullURL() throws {
        let c = try AMQPConfig(url: "amqp://fleet:s%40cret@10.0.0.5:5673/prod%2fa")
        #expect(c.host == "10.0.0.5")
        #expect(c.port == 5673)
        #expect(c.user == "fleet")
        #expect(c.password == "s@cret")
        #expect(c.vhost == "prod/a")
    }

    @Test(arguments: ["amqp://127.0.0.1", "amqp://127.0.0.1/", "amqp://127.0.0.1/%2f"])
    func defaultVhostIsSlash(url: String) throws {
        let c = try AMQPConfig(url: url)
        #expect(c.vhost == "/")
        #expect(c.port == 5672)
        #expect(c.user == "guest")
    }

    @Test(arguments: ["http://127.0.0.1", "127.0.0.1:5672", "amqp:///vhost", ""])
    func rejectsBadURLs(url: String) {
        #expect(throws: AMQPError.self) { try AMQPConfig(url: url) }
    }

    @Test func backoffIsCappedAndJittered() {
        var b = Backoff(base: .milliseconds(100), cap: .seconds(2))
        var rng = SystemRandomNumberGenerator()
        var waits: [Duration] = []
        for _ in 0..<50 { waits.append(b.next(using: &rng)) }
        #expect(waits.allSatisfy { $0 >= .zero && $0 <= .seconds(2) })
        #expect(waits.prefix(1).allSatisfy { $0 <= .milliseconds(100) })
        #expect(Set(waits).count > 10, "full jitter should spread the waits")
        b.reset()
        #expect(b.next(using: &rng) <= .milliseconds(100))
    }

    @Test func retriabilityFollowsKind() {
        #expect(AMQPError(.connectionLost, "").isRetriable)
        #expect(AMQPError(.notConnected, "").isRetriable)
        #expect(AMQPError(.timeout, "").isRetriable)
        #expect(!AMQPError(.returned(code: 312), "").isRetriable)
        #expect(!AMQPError(.channelClosed(code: 404), "").isRetriable)
        #expect(!AMQPError(.invalidURL, "").isRetriable)
    }
}
