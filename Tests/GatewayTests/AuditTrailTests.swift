import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import FleetTestSupport
import Foundation
import GatewayService
import HummingbirdTesting
import Testing

/// The audit trail end to end: requests over HTTP (in-process gateway) and straight onto the bus
/// reach the real services, which publish their records; a `fleet-gateway` process (the trail's
/// one writer) appends them to `fleet:audit`, beside the refusals the gateway answers itself.
@Suite("audit trail", .serialized)
struct AuditTrailTests {
    let api = Gateway.prefix

    private func entries(_ c: any TestClientProtocol, _ token: String?, _ query: String) async throws -> [JSONValue] {
        try await c.call(.get, "\(api)/audit?\(query)", token: token).json["entries"]?.arrayValue ?? []
    }

    @Test(.timeLimit(.minutes(2))) func everyMutationIsRecordedWithItsActorAndOutcome() async throws {
        let h = try await GatewayHarness.make()
        let writer = try ServiceProcess("fleet-gateway", environment: ["FLEET_GATEWAY_PORT": String(TestEnvironment.freePort())])
        defer { writer.stop() }
        let group = unique("audit-g")
        try await h.withClient { c in
            let admin = h.tokens[.admin]
            // Over HTTP: the groups service records it, under the token that asked.
            let created = try await c.call(.post, "\(api)/groups", token: h.tokens[.operate], json: ["id": .string(group), "name": .string(group)])
            #expect(created.status == 201)
            var found: [JSONValue] = []
            let recorded = await TestEnvironment.eventually(timeout: .seconds(30)) {
                found = (try? await entries(c, admin, "target=\(group)&action=groups.upsert")) ?? []
                return !found.isEmpty
            }
            #expect(recorded, "the create reached the trail")
            let entry = found.first
            #expect(entry?["actor"]?["kind"] == "token" && entry?["actor"]?["name"] == "test-operate", "\(String(describing: entry))")
            #expect(entry?["outcome"]?["status"] == 201 && entry?["outcome"]?["error"] == .null)
            #expect(entry?["request_id"]?.stringValue?.isEmpty == false && entry?["at"]?.stringValue?.hasSuffix("Z") == true)

            // Refused by the gateway itself (a read token cannot create): recorded by the gateway.
            let refused = try await c.call(.post, "\(api)/groups", token: h.tokens[.read], json: ["id": .string(group + "-x"), "name": "x"])
            #expect(refused.status == 403)
            let refusals = try await entries(c, admin, "action=http:POST%20\(api)/groups&actor=test-read&limit=5")
            #expect(refusals.first?["outcome"]?["status"] == 403, "\(refusals)")

            // Straight onto the bus: the broker user is the actor; a failed request is recorded too.
            _ = await h.stack.bus.call(Route.groupsDelete, ["id": .string(group)])
            _ = await h.stack.bus.call(Route.groupsDelete, ["id": .string(group)])
            var deletes: [JSONValue] = []
            #expect(
                await TestEnvironment.eventually(timeout: .seconds(30)) {
                    deletes = (try? await entries(c, admin, "target=\(group)&action=groups.delete")) ?? []
                    return deletes.count == 2
                }, "both deletes")
            #expect(deletes.allSatisfy { $0["actor"]?["kind"] == "bus" && $0["actor"]?["user"] == "guest" }, "\(deletes)")
            #expect(Set(deletes.compactMap { $0["outcome"]?["status"]?.intValue }) == [200, 404], "newest first, each with its outcome")

            // Prefix filters, newest first; reads are not recorded.
            let groupsActions = try await entries(c, admin, "action=groups.&target=\(group)")
            #expect(groupsActions.map { $0["action"] } == ["groups.delete", "groups.delete", "groups.upsert"])
            #expect(try await entries(c, admin, "action=http:GET%20\(api)/groups&limit=1").isEmpty)
            let future = try await entries(c, admin, "target=\(group)&since=2999-01-01T00:00:00Z")
            #expect(future.isEmpty)
            #expect(try await entries(c, admin, "target=\(group)&since=2000-01-01T00:00:00.500%2B02:00").count == 3, "fractions and offsets")

            // Paging: one at a time reaches all three, then stops.
            var cursor: String?
            var paged: [JSONValue] = []
            repeat {
                let answer = try await c.call(
                    .get, "\(api)/audit?action=groups.&target=\(group)&limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""), token: admin)
                paged += answer.json["entries"]?.arrayValue ?? []
                cursor = answer.json["next_cursor"]?.stringValue
            } while cursor != nil && paged.count < 10
            #expect(paged.map { $0["id"] } == groupsActions.map { $0["id"] })

            // Bad parameters are named; reading the trail takes admin.
            let bad = try await c.call(.get, "\(api)/audit?since=yesterday", token: admin)
            #expect(bad.status == 422 && bad.errorFields == ["since"])
            #expect(try await c.call(.get, "\(api)/audit?cursor=abc", token: admin).errorFields == ["cursor"])
            #expect(try await c.call(.get, "\(api)/audit", token: h.tokens[.operate]).status == 403)
        }
    }

    /// A rollout created over HTTP is recorded with the bulk operation its controller created for
    /// it, under the same caller: the actor follows the request from service to service.
    @Test(.timeLimit(.minutes(2))) func aNestedCreateIsTheSameCallers() async throws {
        let h = try await GatewayHarness.make()
        let writer = try ServiceProcess("fleet-gateway", environment: ["FLEET_GATEWAY_PORT": String(TestEnvironment.freePort())])
        defer { writer.stop() }
        let tag = unique("audit-ro")
        _ = await h.stack.bus.call(Route.hostsUpsert, ["hosts": [["id": .string(tag), "tags": [.string(tag)], "approval_status": "approved"]]])
        try await h.withClient { c in
            let created = try await c.call(
                .post, "\(api)/rolling", token: h.tokens[.operate], json: ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 1])
            let rollout = try #require(created.json["id"]?.stringValue, "\(created.json)")
            let op = try #require(created.json["bulk_operation_id"]?.stringValue)
            var bulk: [JSONValue] = []
            #expect(
                await TestEnvironment.eventually(timeout: .seconds(30)) {
                    bulk = (try? await entries(c, h.tokens[.admin], "target=\(op)&action=bulk.create")) ?? []
                    return !bulk.isEmpty
                })
            #expect(bulk.first?["actor"]?["name"] == "test-operate", "\(bulk)")
            let top = try await entries(c, h.tokens[.admin], "target=\(rollout)&action=rolling.create")
            #expect(top.first?["actor"]?["name"] == "test-operate" && top.first?["request_id"] == bulk.first?["request_id"])
            _ = try await c.call(.post, "\(api)/rolling/\(rollout)/cancel", token: h.tokens[.operate])
        }
    }

    /// Each append trims what is past the retention (a stream of the test's own).
    @Test func appendsTrimWhatIsPastTheRetention() async throws {
        let stack = try await ServiceStack.shared.handle()
        let key = unique("fleet:audit-test-")
        defer { Task { _ = try? await stack.redis.send("DEL", key) } }
        let threeDaysAgo = "\(Int64(Date().addingTimeInterval(-3 * 86_400).timeIntervalSince1970 * 1000))-0"
        let yesterdayish = "\(Int64(Date().addingTimeInterval(-0.5 * 86_400).timeIntervalSince1970 * 1000))-0"
        _ = try await stack.redis.send("XADD", key, threeDaysAgo, "action", "test.old")
        _ = try await stack.redis.send("XADD", key, yesterdayish, "action", "test.recent")
        let log = AuditLog(redis: stack.redis, retentionDays: 1, key: key)
        try await log.append([
            AuditRecord(at: Events.timestamp(Date()), actor: "bus:guest", action: "test.new", target: nil, status: 200, error: nil, requestID: nil)
        ])
        let left = try await stack.redis.send("XRANGE", key, "-", "+").array ?? []
        #expect(left.count == 2, "the three-day-old entry is gone; the half-day-old one and the new one stay")
        #expect(left.first?.array?.first?.string == yesterdayish)
    }
}
