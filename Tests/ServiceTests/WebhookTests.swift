import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// Completion webhooks against a real HTTP receiver on 127.0.0.1: an operation's, a rollout's
/// and a schedule run's final progress POSTed by their owners, retried with backoff, given up
/// after the last attempt, never with the caller's token.
@Suite("completion webhooks")
struct WebhookTests {
    private func hosts(_ s: ServiceStack.Handle, _ tag: String, _ n: Int) async throws -> ([String], TestAgent, Task<Void, Never>) {
        let ids = (0..<n).map { "\(tag)-\($0)" }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(ids.map { ["id": .string($0), "tags": [.string(tag)], "approval_status": "approved"] })])
        let agent = try await TestAgent.bind(ids)
        let serving = try await agent.serve(bus: s.bus) { _ in ["status": "succeeded"] }
        return (ids, agent, serving)
    }

    @Test(.timeLimit(.minutes(2))) func anOperationsAndARolloutsFinishArePostedAndRetried() async throws {
        let s = try await ServiceStack.shared.handle()
        let receiver = try await GateServer()
        defer { receiver.stop() }
        let tag = unique("hook")
        let (_, agent, serving) = try await hosts(s, tag, 2)
        defer {
            serving.cancel()
            Task { await agent.close() }
        }
        let bulk = await s.bus.call(
            Route.bulkCreate,
            ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "notify": ["url": .string(receiver.base + "/hook")]])
        let op = try #require(bulk.body?["id"]?.stringValue, "\(bulk)")
        #expect(bulk.body?["notify"]?["url"]?.stringValue == receiver.base + "/hook")
        let rollout = await s.bus.call(
            Route.rollingCreate,
            ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 1, "notify": ["url": .string(receiver.base + "/hook-flaky")]])
        let ro = try #require(rollout.body?["id"]?.stringValue, "\(rollout)")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(60)) {
                receiver.received().contains { $0.path == "/hook" && $0.body?["id"] == .string(op) }
                    && receiver.received().filter { $0.path == "/hook-flaky" }.count == 3
            }, "\(receiver.received().map(\.path))")
        let posted = try #require(receiver.received().first { $0.path == "/hook" && $0.body?["id"] == .string(op) }?.body)
        #expect(posted["kind"] == "bulk" && posted["status"] == "succeeded" && posted["progress"]?["succeeded"] == 2, "\(posted)")
        let flaky = receiver.received().filter { $0.path == "/hook-flaky" }
        #expect(flaky.allSatisfy { $0.body?["id"] == .string(ro) && $0.body?["kind"] == "rolling" && $0.body?["status"] == "succeeded" })
        #expect(receiver.received().allSatisfy { !$0.carriedCredentials }, "no token, no cookie")
        // The rollout's own operation carries no webhook: one POST per finished record asked for.
        #expect(receiver.received().filter { $0.body?["kind"] == "bulk" }.count == 1)
        try await Task.sleep(for: .seconds(2))
        #expect(receiver.received().filter { $0.path == "/hook-flaky" }.count == 3, "delivered: not sent again")
    }

    @Test(.timeLimit(.minutes(2))) func aReceiverThatStaysDownGetsFiveAttemptsThenNone() async throws {
        let s = try await ServiceStack.shared.handle()
        let receiver = try await GateServer()
        defer { receiver.stop() }
        let tag = unique("hookdown")
        let (_, agent, serving) = try await hosts(s, tag, 1)
        defer {
            serving.cancel()
            Task { await agent.close() }
        }
        let bulk = await s.bus.call(
            Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "notify": ["url": .string(receiver.base + "/hook-down")]])
        #expect(bulk.status == 201)
        // Attempts at once, then 1, 2, 4 and 8 s apart: five within about 16 s.
        #expect(await TestEnvironment.eventually(timeout: .seconds(45)) { receiver.received().count == Webhooks.maxAttempts })
        try await Task.sleep(for: .seconds(10))
        #expect(receiver.received().count == Webhooks.maxAttempts, "given up: \(receiver.received().count)")
    }

    @Test(.timeLimit(.minutes(2))) func aScheduleRunsEndIsPosted() async throws {
        let s = try await ServiceStack.shared.handle()
        let receiver = try await GateServer()
        defer { receiver.stop() }
        let tag = unique("hooksch")
        let (_, agent, serving) = try await hosts(s, tag, 1)
        defer {
            serving.cancel()
            Task { await agent.close() }
        }
        let schedule = await s.bus.call(
            Route.schedulesCreate,
            [
                "name": .string(tag), "cron": "0 3 * * *", "operation_type": "reboot", "selector": ["tags": [.string(tag)]],
                "notify": ["url": .string(receiver.base + "/hook")],
            ])
        let id = try #require(schedule.body?["id"]?.stringValue, "\(schedule)")
        defer { Task { _ = await s.bus.call(Route.schedulesDelete, ["id": .string(id)]) } }
        let run = await s.bus.call(Route.schedulesRun, ["id": .string(id)])
        #expect(run.status == 201)
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { !receiver.received().isEmpty })
        let posted = receiver.received().first?.body
        #expect(posted?["kind"] == "schedule_run" && posted?["id"] == .string(id) && posted?["status"] == "succeeded", "\(String(describing: posted))")
        #expect(posted?["operation_id"] == run.body?["operation_id"])
    }

    @Test func badWebhooksAreNamed() async throws {
        let s = try await ServiceStack.shared.handle()
        let base: [String: JSONValue] = ["operation_type": "reboot", "selector": ["tags": ["x"]]]
        for (notify, field) in [
            (["url": "ftp://example.com/x"], "notify.url"), (["url": "http://user:pw@example.com/"], "notify.url"), ([:], "notify.url"),
            (["url": "http://a.example/", "colour": "red"], "notify.colour"),
        ] as [(JSONValue, String)] {
            for route in [Route.bulkCreate, Route.rollingCreate] {
                var body = base
                body["notify"] = notify
                if route == Route.rollingCreate { body["batch_size"] = 1 }
                let r = await s.bus.call(route, .object(body))
                #expect(r.status == 422 && r.errorFields.contains(field), "\(route) \(notify): \(r)")
            }
        }
    }
}
