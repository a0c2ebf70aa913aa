import FleetContracts
import FleetCore
import FleetRuntime
import FleetTestSupport
import Testing

@Suite("bulk operations over the bus (tracking)")
struct BulkServiceTests {
    private func fleet(_ s: ServiceStack.Handle) async -> String {
        let tag = unique("bulk")
        let hosts: [JSONValue] = ["approved", "approved", "approved", "pending"].enumerated().map { i, a in
            ["id": .string("\(tag)-\(i)"), "tags": [.string(tag)], "approval_status": .string(a)]
        }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)])
        return tag
    }

    @Test func createSnapshotsTargetsAndSkipsHostsNotApproved() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = await fleet(s)
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "run_script", "selector": ["tags": [.string(tag)]],
                                                    "parameters": ["content": "uptime"]])
        #expect(r.status == 201, "\(r)")
        let id = try #require(r.body?["id"]?.stringValue)
        #expect(r.body?["total"] == 4)
        #expect(r.body?["parameters"]?["shell"] == "bash", "stored with defaults filled in")
        let p = await s.bus.call(Route.bulkProgress, ["id": .string(id)])
        #expect(p.body?["percent_complete"]?.doubleValue == 25.0)
        guard case .object(var counts)? = p.body else { Issue.record("no progress"); return }
        counts["percent_complete"] = nil
        #expect(counts == ["total": 4, "queued": 3, "running": 0, "succeeded": 0, "failed": 0, "skipped": 1, "status": "running"])
        let skipped = await s.bus.call(Route.bulkHosts, ["id": .string(id), "status": "skipped"])
        #expect(skipped.body?["hosts"] == [["host_id": .string("\(tag)-3"), "status": "skipped", "reason": "not_approved"]])
        // Dashboards read the same counters straight from Redis.
        let fromRedis = try await s.redis.send("HGET", RedisKeys.bulkProgress(id), "queued").int
        #expect(fromRedis == 3)
        let listed = await s.bus.call(Route.bulkList, ["limit": 50])
        #expect(listed.body?["operations"]?.arrayValue?.contains { $0["id"] == .string(id) } == true)
    }

    @Test func badRequestsAndEmptySelections() async throws {
        let s = try await ServiceStack.shared.handle()
        let cases: [(JSONValue, String)] = [
            (["selector": ["tags": ["x"]], "parameters": ["content": "x"]], "operation_type"),
            (["operation_type": "run_script", "selector": ["tags": ["x"]], "parameters": [:]], "parameters.content"),
            (["operation_type": "run_script", "selector": ["colour": "red"], "parameters": ["content": "x"]], "selector.colour"),
            (["operation_type": "install_package", "selector": ["tags": ["x"]], "parameters": ["packages": ["-rf"]]], "parameters.packages[0]"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "delivery_timeout_seconds": 0], "delivery_timeout_seconds"),
            (["operation_type": "reboot"], "selector"),
        ]
        for (body, field) in cases {
            let r = await s.bus.call(Route.bulkCreate, body)
            #expect(r.status == 422)
            #expect(r.errorFields.contains(field), "\(field): \(r.errorFields)")
        }
        let nothing: JSONValue = ["operation_type": "reboot", "selector": ["tags": .string(unique("none")).arrayWrapped]]
        let empty = await s.bus.call(Route.bulkCreate, nothing)
        #expect(empty.status == 422)
        #expect(empty.error?.error == "no_targets")
        guard case .object(var allowed) = nothing else { return }
        allowed["allow_empty"] = true
        let ok = await s.bus.call(Route.bulkCreate, .object(allowed))
        #expect(ok.status == 201)
        #expect(ok.body?["status"] == "succeeded")
        #expect(ok.body?["progress"]?["percent_complete"]?.doubleValue == 0.0)
    }

    @Test func idempotencyKeyReturnsTheOriginalAndRefusesAnotherBody() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = await fleet(s)
        let key = unique("idem-")
        let body: JSONValue = ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]]
        let first = await s.bus.call(Route.bulkCreate, body, messageID: key)
        let again = await s.bus.call(Route.bulkCreate, body, messageID: key)
        #expect(first.status == 201)
        #expect(again.status == 200)
        #expect(again.body?["id"] == first.body?["id"])
        let other = await s.bus.call(Route.bulkCreate, ["operation_type": "shutdown", "selector": ["tags": [.string(tag)]]], messageID: key)
        #expect(other.status == 409)
        #expect(other.error?.error == "idempotency_conflict")
        // A create that failed holds no key: the same key works for a good body afterwards.
        let failedKey = unique("idem-")
        #expect(await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": ["no-such-tag-anywhere"]]], messageID: failedKey).status == 422)
        #expect(await s.bus.call(Route.bulkCreate, body, messageID: failedKey).status == 201)
    }

    @Test func cancelSkipsQueuedHostsAndASecondCancelIs409() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = await fleet(s)
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let id = try #require(created.body?["id"])
        let cancelled = await s.bus.call(Route.bulkCancel, ["id": id])
        #expect(cancelled.status == 200)
        #expect(cancelled.body?["status"] == "cancelled")
        #expect(cancelled.body?["progress"]?["skipped"] == 4)
        #expect(await s.bus.call(Route.bulkCancel, ["id": id]).status == 409)
        #expect(await s.bus.call(Route.bulkGet, ["id": "op-missing"]).status == 404)
    }
}

private extension JSONValue {
    var arrayWrapped: JSONValue { .array([self]) }
}
