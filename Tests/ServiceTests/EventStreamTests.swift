import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// `GET /events` (Server-Sent Events) from a real gateway process, read with curl: a snapshot,
/// then every host's result as it lands, then the finish, and the stream ends by itself.
@Suite("live events over HTTP", .serialized)
struct EventStreamTests {
    /// The events of a stream's text: (name, data).
    static func events(_ text: String) -> [(String, JSONValue)] {
        text.components(separatedBy: "\n\n").compactMap { chunk in
            let lines = chunk.split(separator: "\n")
            guard let name = lines.first(where: { $0.hasPrefix("event: ") })?.dropFirst(7),
                let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6), let json = JSONCoding.decode(Array(data.utf8))
            else { return nil }
            return (String(name), json)
        }
    }

    @Test(.timeLimit(.minutes(2))) func anOperationsStreamCarriesEachResultAndEndsAtItsFinish() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let tag = unique("sse")
        let ids = (0..<4).map { "\(tag)-\($0)" }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(ids.map { ["id": .string($0), "tags": [.string(tag)], "approval_status": "approved"] })])
        let agent = try await TestAgent.bind(ids)
        defer { Task { await agent.close() } }
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let op = try #require(created.body?["id"]?.stringValue)
        // The commands wait in the agent's queue until the stream is open.
        let stream = Task {
            try await CommandRun.run(
                absolute: "/usr/bin/curl", ["-sN", "--max-time", "60", "-H", "Authorization: Bearer \(token)", "\(url)/api/v1/fleet/events?operation=\(op)"],
                timeout: .seconds(70))
        }
        try await Task.sleep(for: .seconds(1))
        let serving = try await agent.serve(bus: s.bus) { host in host.hasSuffix("-3") ? ["status": "failed", "exit_code": 2] : ["status": "succeeded"] }
        defer { serving.cancel() }
        let run = try await stream.value
        #expect(run.status == 0, "the stream ended by itself after the finish: \(run.stderr)")
        let events = Self.events(run.stdout)
        #expect(events.first?.0 == "snapshot" && events.first?.1["id"] == .string(op), "\(run.stdout.prefix(500))")
        #expect(Set(events.filter { $0.0 == "host" }.compactMap { $0.1["host_id"]?.stringValue }) == Set(ids))
        #expect(events.first { $0.1["host_id"] == .string("\(tag)-3") }?.1["status"] == "failed")
        #expect(events.last?.0 == "finished" && events.last?.1["status"] == "partial")

        // A finished operation: the snapshot alone, then the end. Bad requests name the field.
        let again = try await CommandRun.run(
            absolute: "/usr/bin/curl", ["-sN", "--max-time", "20", "-H", "Authorization: Bearer \(token)", "\(url)/api/v1/fleet/events?operation=\(op)"])
        #expect(Self.events(again.stdout).map(\.0) == ["snapshot"])
        for (query, status) in [("", "422"), ("operation=\(op)&rollout=\(op)", "422"), ("operation=op-nothing-here", "404"), ("schedule=bad%20id", "422")] {
            let refused = try await CommandRun.run(
                absolute: "/usr/bin/curl",
                ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)", "\(url)/api/v1/fleet/events?\(query)"])
            #expect(refused.stdout == status, "\(query): \(refused.stdout)")
        }
        let anonymous = try await CommandRun.run(
            absolute: "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(url)/api/v1/fleet/events?operation=\(op)"])
        #expect(anonymous.stdout == "401")
    }

    /// A rollout's stream: its batches, its hosts, its finish.
    @Test(.timeLimit(.minutes(2))) func aRolloutsStreamCarriesItsBatches() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let tag = unique("sse-ro")
        let ids = (0..<3).map { "\(tag)-\($0)" }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(ids.map { ["id": .string($0), "tags": [.string(tag)], "approval_status": "approved"] })])
        let agent = try await TestAgent.bind(ids)
        defer { Task { await agent.close() } }
        let created = await s.bus.call(Route.rollingCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 1])
        let id = try #require(created.body?["id"]?.stringValue, "\(created)")
        let stream = Task {
            try await CommandRun.run(
                absolute: "/usr/bin/curl", ["-sN", "--max-time", "60", "-H", "Authorization: Bearer \(token)", "\(url)/api/v1/fleet/events?rollout=\(id)"],
                timeout: .seconds(70))
        }
        try await Task.sleep(for: .seconds(1))
        let serving = try await agent.serve(bus: s.bus) { _ in ["status": "succeeded"] }
        defer { serving.cancel() }
        let events = Self.events(try await stream.value.stdout)
        #expect(events.first?.0 == "snapshot")
        // Batch 1 went out before the stream opened; 2 and 3 arrive as events.
        #expect(events.filter { $0.0 == "batch" }.compactMap { $0.1["batch"]?.intValue } == [2, 3], "\(events.map(\.0))")
        #expect(events.filter { $0.0 == "host" }.count == 3)
        #expect(events.last?.0 == "finished" && events.last?.1["status"] == "succeeded")
    }
}
