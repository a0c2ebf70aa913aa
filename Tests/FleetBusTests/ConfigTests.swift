import Testing

@testable import FleetBus

@Suite("AMQP URL and backoff")
struct ConfigTests {
    @Test func parsesFullURL() throws {
        let c = try AMQPConfig(url: "amqp://fleet:s%40cret@10.0.0.5:5673/prod%2fa")
        #expect(c.nodes == [AMQPNode(host: "10.0.0.5", port: 5673)])
        #expect(c.user == "fleet")
        #expect(c.password == "s@cret")
        #expect(c.vhost == "prod/a")
    }

    @Test(arguments: ["amqp://127.0.0.1", "amqp://127.0.0.1/", "amqp://127.0.0.1/%2f"])
    func defaultVhostIsSlash(url: String) throws {
        let c = try AMQPConfig(url: url)
        #expect(c.vhost == "/")
        #expect(c.nodes.map(\.port) == [5672])
        #expect(c.user == "guest")
    }

    @Test(arguments: ["http://127.0.0.1", "127.0.0.1:5672", "amqp:///vhost", "", " , ", "amqp://a:5672/v,127.0.0.2:5672"])
    func rejectsBadURLs(url: String) {
        #expect(throws: AMQPError.self) { try AMQPConfig(url: url) }
    }

    /// A cluster: one URL per node, comma-separated (spaces around them allowed), tried in order.
    @Test func parsesAListOfNodes() throws {
        let c = try AMQPConfig(url: "amqp://fleet:pw@10.0.0.1:5672/prod, amqp://fleet:pw@10.0.0.2:5673/prod,amqp://fleet:pw@10.0.0.3/prod")
        #expect(c.nodes == [AMQPNode(host: "10.0.0.1", port: 5672), AMQPNode(host: "10.0.0.2", port: 5673), AMQPNode(host: "10.0.0.3", port: 5672)])
        #expect(c.user == "fleet" && c.password == "pw" && c.vhost == "prod")
    }

    /// One connection has one user and vhost: nodes that name different ones are a mistake, said
    /// without showing a password.
    @Test(arguments: [
        "amqp://fleet:pw@a/prod,amqp://other:pw@b/prod", "amqp://fleet:pw@a/prod,amqp://fleet:secret@b/prod",
        "amqp://fleet:pw@a/prod,amqp://fleet:pw@b/staging",
    ])
    func refusesNodesThatDisagree(url: String) {
        #expect {
            try AMQPConfig(url: url)
        } throws: { error in
            let message = (error as? AMQPError)?.message ?? ""
            return message.contains("a:5672") && message.contains("b:5672") && !message.contains("pw") && !message.contains("secret")
        }
    }

    @Test func aBadURLIsReportedWithoutItsPassword() {
        #expect {
            try AMQPConfig(url: "amqps://fleet:hunter2@a/prod")
        } throws: { error in
            let message = (error as? AMQPError)?.message ?? ""
            return message.contains("fleet:***@a") && !message.contains("hunter2")
        }
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
