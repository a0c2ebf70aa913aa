import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayService

private let api = Gateway.prefix

@Suite("gateway over HTTP, against the real services")
struct GatewayHTTPTests {
    /// Tokens are stored by their SHA-256 in hex: the FIPS 180-2 vector for "abc", and a token
    /// already stored keeps its key (the spelling did not change with the table).
    @Test func tokenDigestsAreSHA256InLowerCaseHex() {
        #expect(TokenStore.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TokenStore.digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func seedSelectExample() async throws {
        let h = try await GatewayHarness.make()
        let zone = unique("seedhttp")
        try await h.withClient { c in
            let hosts: JSONValue = [
                "hosts": [
                    [
                        "id": .string("\(zone)-1"), "fqdn": .string("a.prod.\(zone)"), "platform": "Linux", "platform_release": "Ubuntu", "tags": ["webserver"],
                        "approval_status": "approved",
                    ],
                    [
                        "id": .string("\(zone)-2"), "fqdn": .string("b.dev.\(zone)"), "platform": "Linux", "platform_release": "Ubuntu", "tags": ["webserver"],
                        "approval_status": "approved",
                    ],
                    ["id": .string("\(zone)-special"), "platform": "Windows"],
                ]
            ]
            #expect(try await c.call(.post, "\(api)/hosts", token: h.tokens[.admin], json: hosts).status == 200)
            let r = try await c.call(
                .post, "\(api)/select", token: h.tokens[.read],
                json: [
                    "explicit_host_ids": [.string("\(zone)-special")],
                    "criteria": [
                        ["field": "platform_release", "op": "equals", "value": "ubuntu"],
                        ["field": "fqdn", "op": "contains", "value": .string(".prod.\(zone)")],
                    ],
                    "platforms": ["linux"], "tags": ["webserver"], "approval_status": "approved",
                ])
            #expect(r.status == 200)
            #expect(r.json == ["host_ids": [.string("\(zone)-1"), .string("\(zone)-special")], "count": 2])
        }
    }

    @Test func everyOperatorThroughHTTP() async throws {
        let h = try await GatewayHarness.make()
        let t = unique("ops")
        try await h.withClient { c in
            let hosts: JSONValue = [
                "hosts": [
                    ["id": .string("\(t)-a"), "tags": [.string(t), "web"], "fqdn": "a.prod.example", "cpu_cores": 8, "platform": "Linux"],
                    ["id": .string("\(t)-b"), "tags": [.string(t), "db"], "fqdn": "b.dev.example", "cpu_cores": 2, "platform": "FreeBSD"],
                ]
            ]
            _ = try await c.call(.post, "\(api)/hosts", token: h.tokens[.admin], json: hosts)
            let cases: [(String, String, JSONValue, [String])] = [
                ("platform", "equals", "LINUX", ["a"]), ("platform", "not_equals", "linux", ["b"]),
                ("fqdn", "contains", ".prod.", ["a"]), ("fqdn", "not_contains", ".prod.", ["b"]),
                ("tags", "in", ["db"], ["b"]), ("tags", "not_in", ["db"], ["a"]),
                ("fqdn", "matches", "^[ab]\\.dev", ["b"]), ("fqdn", "starts_with", "A.", ["a"]), ("fqdn", "ends_with", "dev.example", ["b"]),
                ("fqdn", "exists", true, ["a", "b"]), ("cpu_cores", "gt", 2, ["a"]), ("cpu_cores", "gte", 2, ["a", "b"]),
                ("cpu_cores", "lt", 8, ["b"]), ("cpu_cores", "lte", 8, ["a", "b"]),
            ]
            #expect(Set(cases.map(\.1)).count == SelectorOperator.allCases.count)
            for (field, op, value, expected) in cases {
                let r = try await c.call(
                    .post, "\(api)/select", token: h.tokens[.read],
                    json: [
                        "tags": [.string(t)], "criteria": [["field": .string(field), "op": .string(op), "value": value]],
                    ])
                #expect(r.hostIDs == expected.map { "\(t)-\($0)" }, "\(field) \(op) \(value)")
            }
        }
    }

    @Test func errorsAreJSONWithTheRightStatus() async throws {
        let h = try await GatewayHarness.make(environment: ["FLEET_GATEWAY_BODY_LIMIT": "2048"])
        try await h.withClient { c in
            let token = h.tokens[.admin]
            let malformed = try await c.call(.post, "\(api)/select", token: token, raw: "{\"criteria\": [")
            #expect(malformed.status == 400)
            #expect(malformed.errorCode == "bad_request")
            let unknownField = try await c.call(.post, "\(api)/select", token: token, json: criterionJSON("colour", "equals", "red"))
            #expect(unknownField.status == 422)
            #expect(unknownField.errorFields == ["criteria[0].field"])
            #expect(try await c.call(.post, "\(api)/select", token: token, json: criterionJSON("fqdn", "resembles", "x")).errorFields == ["criteria[0].op"])
            #expect(try await c.call(.post, "\(api)/select", token: token, json: ["groups": ["nope"]]).errorFields == ["groups[0]"])
            let big = try await c.call(.post, "\(api)/select", token: token, raw: "{\"explicit_host_ids\": [\"" + String(repeating: "x", count: 4096) + "\"]}")
            #expect(big.status == 413)
            #expect(big.errorCode == "payload_too_large")
            let missing = try await c.call(.get, "\(api)/hosts/no-such-host", token: token)
            #expect(missing.status == 404)
            #expect(missing.errorCode == "not_found")
            let route = try await c.call(.get, "\(api)/no-such-route", token: token)
            #expect(route.status == 404)
            #expect(route.errorCode == "not_found")
            let mismatch = try await c.call(.put, "\(api)/hosts/one", token: token, json: ["id": "two"])
            #expect(mismatch.status == 422)
            #expect(mismatch.errorFields == ["id"])
            let empty = try await c.call(.post, "\(api)/select", token: token, json: [:])
            #expect(empty.json == ["host_ids": [], "count": 0])
            // A route with a body refuses none at all (it is not read as {}).
            let noBody = try await c.call(.post, "\(api)/select", token: token)
            #expect(noBody.status == 400)
            #expect(noBody.errorCode == "bad_request")
            // A path that exists, with a method it does not have: 405, not 404.
            let method = try await c.call(.patch, "\(api)/hosts/one", token: token, json: [:])
            #expect(method.status == 405)
            #expect(method.headers[.allow] == "DELETE, GET, PUT")
            #expect(method.errorCode == "method_not_allowed")
            #expect(try await c.call(.delete, "\(api)/bulk", token: token).status == 405)
            #expect(try await c.call(.patch, "\(api)/no-such-route", token: token).status == 404)
            // A path's id is percent-decoded: web%3A1 is the host web:1.
            let colon = unique("colon") + ":1"
            #expect(
                try await c.call(.put, "\(api)/hosts/\(colon.replacingOccurrences(of: ":", with: "%3A"))", token: token, json: ["platform": "Linux"]).status
                    == 200)
            #expect(try await c.call(.get, "\(api)/hosts/\(colon)", token: token).json["id"] == .string(colon))
            // A cursor is a host id.
            let cursor = try await c.call(.get, "\(api)/hosts?cursor=a%7Cb", token: token)
            #expect(cursor.status == 422)
            #expect(cursor.errorFields == ["cursor"])
        }
    }

    /// `GET /openapi.yaml`: the description the gateway was built with, byte for byte, without a token.
    @Test func theGatewayServesItsOwnDescription() async throws {
        let h = try await GatewayHarness.make()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let spec = try Data(contentsOf: root.appendingPathComponent("docs/openapi.yaml"))
        try await h.withClient { c in
            let (status, type, body) = try await c.execute(uri: "/openapi.yaml", method: .get, headers: [:], body: nil) { response in
                (response.status.code, response.headers[.contentType], Data(response.body.readableBytesView))
            }
            #expect(status == 200 && type == "application/yaml")
            #expect(body == spec && String(decoding: body, as: UTF8.self).hasPrefix("openapi: 3.1"))
        }
    }

    @Test func authenticationAndScopes() async throws {
        let h = try await GatewayHarness.make()
        try await h.withClient { c in
            let anonymous = try await c.call(.get, "\(api)/hosts", token: nil)
            #expect(anonymous.status == 401)
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer realm=\"fleet\"")
            #expect(try await c.call(.get, "\(api)/hosts", token: "fe_not-a-token").status == 401)
            #expect(try await c.call(.get, "\(api)/hosts", token: h.tokens[.read]).status == 200)
            let forbidden = try await c.call(.post, "\(api)/groups", token: h.tokens[.read], json: ["name": .string(unique("g"))])
            #expect(forbidden.status == 403)
            #expect(forbidden.errorCode == "forbidden")
            #expect(try await c.call(.post, "\(api)/groups", token: h.tokens[.operate], json: ["name": .string(unique("g"))]).status == 201)
            #expect(try await c.call(.get, "/health", token: nil).status == 200)
            // Registering a host is operate; approving it (whether it runs anything) is admin.
            let host = unique("approve")
            #expect(try await c.call(.put, "\(api)/hosts/\(host)", token: h.tokens[.operate], json: ["platform": "Linux"]).status == 200)
            for body: JSONValue in [["id": .string(host), "approval_status": "approved"], ["hosts": [["id": .string(host), "approval_status": "approved"]]]] {
                let approve = try await c.call(.post, "\(api)/hosts", token: h.tokens[.operate], json: body)
                #expect(approve.status == 403)
                #expect(approve.errorCode == "forbidden")
            }
            #expect(try await c.call(.put, "\(api)/hosts/\(host)", token: h.tokens[.operate], json: ["approval_status": "approved"]).status == 403)
            #expect(try await c.call(.get, "\(api)/hosts/\(host)", token: h.tokens[.read]).json["approval_status"] == nil)
            #expect(try await c.call(.put, "\(api)/hosts/\(host)", token: h.tokens[.admin], json: ["approval_status": "approved"]).status == 200)
            #expect(try await c.call(.get, "\(api)/hosts/\(host)", token: h.tokens[.read]).json["approval_status"] == "approved")
        }
    }

    /// `PUT /budgets/{operation_type}` takes admin, names a bad field, and reads back with
    /// `GET /budgets`; `DELETE` lifts the ceiling. (The dispatch side is CoordinationTests'.)
    @Test func concurrencyBudgetsOverHTTP() async throws {
        let h = try await GatewayHarness.make()
        let path = "\(api)/budgets/shutdown"
        try await h.withClient { c in
            #expect(try await c.call(.put, path, token: h.tokens[.operate], json: ["max_in_flight": 1000]).status == 403, "setting a budget needs admin")
            let bad = try await c.call(.put, path, token: h.tokens[.admin], json: ["max_in_flight": -1])
            #expect(bad.status == 422 && bad.errorFields == ["max_in_flight"], "\(bad.json)")
            let unknown = try await c.call(.put, "\(api)/budgets/format_disk", token: h.tokens[.admin], json: ["max_in_flight": 5])
            #expect(unknown.status == 422 && unknown.errorFields == ["operation_type"], "\(unknown.json)")
            let mismatch = try await c.call(.put, path, token: h.tokens[.admin], json: ["max_in_flight": 5, "operation_type": "reboot"])
            #expect(mismatch.status == 422 && mismatch.errorFields == ["operation_type"])
            let set = try await c.call(.put, path, token: h.tokens[.admin], json: ["max_in_flight": 1000])
            #expect(set.status == 200 && set.json["max_in_flight"] == 1000 && set.json["in_flight"]?.intValue != nil, "\(set.json)")
            let listed = try await c.call(.get, "\(api)/budgets", token: h.tokens[.read]).json["budgets"]?.arrayValue ?? []
            #expect(listed.first { $0["operation_type"] == "shutdown" }?["max_in_flight"] == 1000)
            #expect(try await c.call(.delete, path, token: h.tokens[.admin]).json["max_in_flight"] == .null)
        }
    }

    /// `/windows`: admin writes, read lists, a 422 naming the field, and where it stands now.
    @Test func maintenanceWindowsOverHTTP() async throws {
        let h = try await GatewayHarness.make()
        let name = unique("win")
        let path = "\(api)/windows/\(name)"
        try await h.withClient { c in
            #expect(try await c.call(.put, path, token: h.tokens[.operate], json: ["cron": "0 2 * * *", "duration_minutes": 60]).status == 403)
            let bad = try await c.call(.put, path, token: h.tokens[.admin], json: ["cron": "0 26 * * *", "duration_minutes": 60])
            #expect(bad.status == 422 && bad.errorFields == ["cron.hour"], "\(bad.json)")
            let set = try await c.call(.put, path, token: h.tokens[.admin], json: ["cron": "* * * * *", "duration_minutes": 10, "timezone": "Europe/Berlin"])
            #expect(set.status == 200 && set.json["open"] == true && set.json["closes_at"]?.stringValue != nil, "\(set.json)")
            let posted = try await c.call(
                .post, "\(api)/windows", token: h.tokens[.admin], json: ["name": .string(name + "-b"), "cron": "0 2 1 1 *", "duration_minutes": 5])
            #expect(posted.status == 200 && posted.json["open"] == false && posted.json["next_opening"]?.stringValue?.hasSuffix("-01-01T02:00:00.000Z") == true)
            let listed = try await c.call(.get, "\(api)/windows", token: h.tokens[.read]).json["windows"]?.arrayValue ?? []
            #expect(listed.contains { $0["name"] == .string(name) })
            #expect(try await c.call(.get, path, token: h.tokens[.read]).json["timezone"] == "Europe/Berlin")
            #expect(try await c.call(.delete, path, token: h.tokens[.admin]).status == 200)
            #expect(try await c.call(.delete, "\(api)/windows/\(name)-b", token: h.tokens[.admin]).status == 200)
            #expect(try await c.call(.get, path, token: h.tokens[.read]).status == 404)
        }
    }

    /// `POST /hosts/{id}/enroll` (admin) hands out the host's AMQP URL once; enrolling again
    /// rotates it (the old one stops working); `DELETE` revokes it.
    @Test func enrollingAndRevokingAnAgent() async throws {
        let h = try await GatewayHarness.make()
        let host = unique("enroll-http:")
        let path = "\(api)/hosts/\(host)/enroll"
        try await h.withClient { c in
            #expect(try await c.call(.post, path, token: h.tokens[.operate]).status == 403, "enrolling needs admin")
            #expect(try await c.call(.delete, path, token: h.tokens[.operate]).status == 403, "revoking needs admin")
            let bad = try await c.call(.post, "\(api)/hosts/bad%20id/enroll", token: h.tokens[.admin])
            #expect(bad.status == 422 && bad.errorFields == ["id"], "\(bad.json)")
            let first = try await c.call(.post, path, token: h.tokens[.admin])
            #expect(first.status == 201, "\(first.json)")
            #expect(first.json["broker_user"] == .string("agent.\(host)") && first.json["rotated"] == false)
            let url = try #require(first.json["amqp_url"]?.stringValue)
            let works = try await AMQPConnection.connect(url: url, name: "enrolled-http")
            await works.close()
            let second = try await c.call(.post, path, token: h.tokens[.admin])
            #expect(second.status == 200 && second.json["rotated"] == true)
            #expect(second.json["amqp_url"] != first.json["amqp_url"])
            await #expect(throws: AMQPError.self, "the rotated password no longer logs in") {
                _ = try await AMQPConnection.connect(url: url, name: "rotated")
            }
            #expect(try await c.call(.delete, path, token: h.tokens[.admin]).status == 204)
            #expect(try await c.call(.delete, path, token: h.tokens[.admin]).status == 404)
            let rotated = try #require(second.json["amqp_url"]?.stringValue)
            await #expect(throws: AMQPError.self, "a revoked user no longer logs in") {
                _ = try await AMQPConnection.connect(url: rotated, name: "revoked")
            }
        }
    }

    /// Every 503 (the broker or Redis unavailable, a service not ready) says when to come back.
    @Test func unavailableAnswersCarryRetryAfter() {
        let response = JSONResponse.error(503, "unavailable", "Redis is unavailable")
        #expect(response.headers[.retryAfter] == String(JSONResponse.retryAfterSeconds))
        #expect(JSONResponse.error(422, "validation_failed", "x").headers[.retryAfter] == nil)
    }

    @Test func disabledFeatureAnswers402() async throws {
        let h = try await GatewayHarness.make(environment: ["FLEET_FEATURES_DISABLED": "fleet_groups"])
        try await h.withClient { c in
            let r = try await c.call(.post, "\(api)/select", token: nil, json: [:])
            #expect(r.status == 402)
            #expect(r.json["error"] == "feature_not_enabled")
            #expect(r.json["feature"] == "fleet_groups")
            #expect(try await c.call(.get, "\(api)/groups", token: h.tokens[.admin]).status == 402)
            #expect(try await c.call(.get, "\(api)/hosts", token: h.tokens[.read]).status == 200, "hosts are not gated")
            let info = try await c.call(.get, "\(api)/module-info", token: nil)
            #expect(info.json["features"]?.arrayValue?.contains("fleet_groups") == false)
            #expect(info.json["features"]?.arrayValue?.count == 4)
        }
    }

    @Test func busAndHTTPGiveTheSameAnswers() async throws {
        let h = try await GatewayHarness.make()
        let t = unique("same")
        _ = await h.stack.bus.call(
            Route.hostsUpsert, ["hosts": [["id": .string("\(t)-1"), "tags": [.string(t)]], ["id": .string("\(t)-2"), "tags": [.string(t)]]]])
        let requests: [(Route: String, JSONValue, HTTPRequest.Method, String, JSONValue?)] = [
            (Route.selectorResolve, ["tags": [.string(t)]], .post, "\(api)/select", ["tags": [.string(t)]]),
            (
                Route.selectorResolve, ["criteria": [["field": "nope", "op": "equals", "value": 1]]], .post, "\(api)/select",
                ["criteria": [["field": "nope", "op": "equals", "value": 1]]]
            ),
            (Route.hostsGet, ["id": .string("\(t)-1")], .get, "\(api)/hosts/\(t)-1", nil),
            (Route.hostsGet, ["id": "missing-host"], .get, "\(api)/hosts/missing-host", nil),
        ]
        try await h.withClient { c in
            for (route, body, method, path, httpBody) in requests {
                let viaBus = await h.stack.bus.call(route, body)
                let viaHTTP = try await c.call(method, path, token: h.tokens[.admin], json: httpBody)
                #expect(viaHTTP.status == viaBus.status, "\(path)")
                #expect(viaHTTP.json == (viaBus.error?.json ?? viaBus.body), "\(path)")
            }
        }
    }

    @Test func groupsThroughHTTP() async throws {
        let h = try await GatewayHarness.make()
        let p = unique("hg")
        try await h.withClient { c in
            let op = h.tokens[.operate]
            #expect(try await c.call(.post, "\(api)/groups", token: op, json: ["id": .string("\(p)-a"), "name": .string("\(p) A")]).status == 201)
            #expect(
                try await c.call(
                    .post, "\(api)/groups", token: op,
                    json: [
                        "id": .string("\(p)-b"), "name": .string("\(p) B"), "parent_id": .string("\(p)-a"),
                        "criteria": [["field": "tags", "op": "equals", "value": .string(p)]],
                    ]
                ).status == 201)
            let cycle = try await c.call(
                .post, "\(api)/groups", token: op, json: ["id": .string("\(p)-a"), "name": .string("\(p) A"), "parent_id": .string("\(p)-b")])
            #expect(cycle.status == 409)
            #expect(cycle.errorCode == "group_cycle")
            _ = try await c.call(.put, "\(api)/hosts/\(p)-h1", token: op, json: ["tags": [.string(p)]])
            #expect(try await c.call(.get, "\(api)/groups/\(p)-a/hosts", token: op).hostIDs == ["\(p)-h1"])
            let list = try await c.call(.get, "\(api)/groups?parent_id=\(p)-a", token: op)
            #expect(list.json["groups"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["\(p)-b"])
            #expect(try await c.call(.delete, "\(api)/groups/\(p)-a", token: op).json["reparented"] == [.string("\(p)-b")])
            #expect(try await c.call(.get, "\(api)/groups/\(p)-b", token: op).json["parent_id"] == .null)
        }
    }

    @Test func bulkOperationsThroughHTTP() async throws {
        let h = try await GatewayHarness.make()
        let t = unique("hb")
        try await h.withClient { c in
            let op = h.tokens[.operate]
            _ = try await c.call(
                .post, "\(api)/hosts", token: h.tokens[.admin],
                json: [
                    "hosts": [
                        ["id": .string("\(t)-1"), "tags": [.string(t)], "approval_status": "approved"],
                        ["id": .string("\(t)-2"), "tags": [.string(t)]],
                    ]
                ])
            let body: JSONValue = ["operation_type": "install_package", "selector": ["tags": [.string(t)]], "parameters": ["packages": ["nginx"]]]
            #expect(try await c.call(.post, "\(api)/bulk", token: h.tokens[.read], json: body).status == 403)
            let created = try await c.call(.post, "\(api)/bulk", token: op, json: body)
            #expect(created.status == 201)
            let id = try #require(created.json["id"]?.stringValue)
            #expect(created.headers[.location] == "\(api)/bulk/\(id)")
            // No agent serves these hosts: the approved one fails undeliverable, the other is skipped.
            let progress = try await c.call(.get, "\(api)/bulk/\(id)/progress", token: op)
            #expect(progress.json == ["total": 2, "queued": 0, "running": 0, "succeeded": 0, "failed": 1, "skipped": 1, "percent_complete": 100])
            // Read from the dispatcher's counters (BulkRecords), not over the bus: the body bulk.progress answers.
            #expect(progress.json == (await h.stack.bus.call(Route.bulkProgress, ["id": .string(id)])).body)
            let missing = try await c.call(.get, "\(api)/bulk/op-nope/progress", token: op)
            #expect(missing.status == 404)
            #expect(missing.json["error"] == "not_found")
            #expect(try await c.call(.get, "\(api)/bulk/\(id)", token: op).json["status"] == "failed")
            let hosts = try await c.call(.get, "\(api)/bulk/\(id)/hosts?status=skipped", token: op)
            #expect(hosts.json["hosts"] == [["host_id": .string("\(t)-2"), "status": "skipped", "reason": "not_approved"]])
            #expect(try await c.call(.post, "\(api)/bulk/\(id)/cancel", token: op).status == 409)
            // A full page: the suites beside this one create operations too, newer than this one.
            let listed = try await c.call(.get, "\(api)/bulk?limit=500", token: op).json["operations"]?.arrayValue ?? []
            #expect(listed.contains { $0["id"] == .string(id) })
            #expect(try await c.call(.get, "\(api)/bulk/op-nope", token: op).status == 404)
            let bad = try await c.call(.post, "\(api)/bulk", token: op, json: ["operation_type": "install_package", "selector": ["tags": [.string(t)]]])
            #expect(bad.status == 422)
            #expect(bad.errorFields == ["parameters.packages"])
        }
    }

    @Test func rollingDeploymentsThroughHTTP() async throws {
        let h = try await GatewayHarness.make()
        let t = unique("hr")
        try await h.withClient { c in
            let op = h.tokens[.operate]
            _ = try await c.call(
                .post, "\(api)/hosts", token: h.tokens[.admin],
                json: [
                    "hosts": .array(
                        (0..<3).map {
                            ["id": .string("\(t)-\($0)"), "tags": [.string(t)], "approval_status": "approved"]
                        })
                ])
            let body: JSONValue = [
                "operation_type": "reboot", "selector": ["tags": [.string(t)]], "batch_size": 1,
                "batch_delay_seconds": 60, "failure_threshold_pct": 50,
            ]
            #expect(try await c.call(.post, "\(api)/rolling", token: h.tokens[.read], json: body).status == 403)
            let created = try await c.call(.post, "\(api)/rolling", token: op, json: body)
            #expect(created.status == 201, "\(created.json)")
            #expect(created.json["plan"]?["total"] == 3 && created.json["plan"]?["batches"] == [1, 1, 1] && created.json["plan"]?["failure_budget"] == 1)
            #expect(created.json["plan"]?["estimated_duration_seconds"] == 120, "two delays of 60 s")
            let id = try #require(created.json["id"]?.stringValue)
            // No agent serves these hosts: the first fails undeliverable (within the budget of 1),
            // then the rollout waits out its delay.
            let progress = try await c.call(.get, "\(api)/rolling/\(id)/progress", token: op)
            #expect(progress.status == 200)
            #expect(progress.json["total_batches"] == 3 && progress.json["failure_budget"] == 1)
            #expect(try await c.call(.post, "\(api)/rolling/\(id)/resume", token: op).status == 409)
            #expect(try await c.call(.post, "\(api)/rolling/\(id)/pause", token: op).json["status"] == "paused")
            #expect(try await c.call(.post, "\(api)/rolling/\(id)/resume", token: op).json["status"] == "running")
            #expect(try await c.call(.post, "\(api)/rolling/\(id)/cancel", token: op).json["status"] == "cancelled")
            #expect(try await c.call(.get, "\(api)/rolling/\(id)", token: op).json["status"] == "cancelled")
            let listed = try await c.call(.get, "\(api)/rolling", token: op).json["deployments"]?.arrayValue ?? []
            #expect(listed.contains { $0["id"] == .string(id) })
            #expect(try await c.call(.get, "\(api)/rolling/ro-nope", token: op).status == 404)
            let bad = try await c.call(
                .post, "\(api)/rolling", token: op, json: ["operation_type": "reboot", "selector": ["tags": [.string(t)]], "batch_size": "0%"])
            #expect(bad.status == 422 && bad.errorFields == ["batch_size"], "\(bad.json)")
        }
        let gated = try await GatewayHarness.make(environment: ["FLEET_FEATURES_DISABLED": "fleet_rolling_deployments"])
        try await gated.withClient { c in
            let r = try await c.call(.get, "\(api)/rolling", token: gated.tokens[.read])
            #expect(r.status == 402)
        }
    }

    @Test func schedulesThroughHTTPAndTheScheduledAlias() async throws {
        let h = try await GatewayHarness.make()
        try await h.withClient { c in
            let op = h.tokens[.operate]
            let body: JSONValue = [
                "name": "nightly", "operation_type": "reboot", "selector": ["tags": [.string(unique("hs"))]],
                "cron": "0 3 * * *", "timezone": "Europe/Paris",
            ]
            #expect(try await c.call(.post, "\(api)/schedules", token: h.tokens[.read], json: body).status == 403)
            let created = try await c.call(.post, "\(api)/schedules", token: op, json: body)
            #expect(created.status == 201, "\(created.json)")
            let id = try #require(created.json["id"]?.stringValue)
            #expect(created.json["next_run"]?.stringValue != nil && created.json["misfire_policy"] == "fire_once")
            #expect(try await c.call(.get, "\(api)/scheduled/\(id)", token: op).json["name"] == "nightly", "the alias")
            let listed = try await c.call(.get, "\(api)/schedules", token: op).json["schedules"]?.arrayValue ?? []
            #expect(listed.contains { $0["id"] == .string(id) })
            guard case .object(var changed) = body else { return }
            changed["enabled"] = false
            let updated = try await c.call(.put, "\(api)/schedules/\(id)", token: op, json: .object(changed))
            #expect(updated.status == 200 && updated.json["enabled"] == false)
            let run = try await c.call(.post, "\(api)/schedules/\(id)/run", token: op)
            #expect(run.status == 201 && run.json["status"] == "skipped", "nothing selected: \(run.json)")
            #expect(try await c.call(.get, "\(api)/schedules/\(id)/runs", token: op).json["runs"]?.arrayValue?.count == 1)
            changed["cron"] = "0 3 * *"
            let bad = try await c.call(.put, "\(api)/schedules/\(id)", token: op, json: .object(changed))
            #expect(bad.status == 422 && bad.errorFields == ["cron"])
            #expect(try await c.call(.delete, "\(api)/schedules/\(id)", token: op).json["deleted"] == true)
            #expect(try await c.call(.get, "\(api)/schedules/\(id)", token: op).status == 404)
        }
    }

    @Test func bulkFeaturesGateTheirRoutesAndThePlanType() async throws {
        let noPlans = try await GatewayHarness.make(environment: ["FLEET_FEATURES_DISABLED": "fleet_config_deployment"])
        try await noPlans.withClient { c in
            let r = try await c.call(
                .post, "\(api)/bulk", token: noPlans.tokens[.operate],
                json: ["operation_type": "apply_deployment_plan", "selector": ["tags": ["x"]], "parameters": ["plan": ["packages": ["a"]]]])
            #expect(r.status == 402)
            #expect(r.json["feature"] == "fleet_config_deployment")
        }
        let noBulk = try await GatewayHarness.make(environment: ["FLEET_FEATURES_DISABLED": "fleet_bulk_operations"])
        try await noBulk.withClient { c in
            let gated = try await c.call(.get, "\(api)/bulk", token: noBulk.tokens[.read])
            #expect(gated.status == 402)
            #expect(gated.json["feature"] == "fleet_bulk_operations")
        }
    }

    @Test func readinessAndModuleInfo() async throws {
        let h = try await GatewayHarness.make()
        try await h.withClient { c in
            let ready = try await c.call(.get, "/ready", token: nil)
            #expect(ready.status == 200, "\(ready.json)")
            #expect(ready.json["checks"]?["selector"] == true)
            #expect(ready.json["checks"]?["rollout-controller"] == true)
            #expect(ready.json["checks"]?["scheduler"] == true)
            let info = try await c.call(.get, "\(api)/module-info", token: nil)
            #expect(info.json["module"] == "fleet_engine")
            #expect(info.json["features"]?.arrayValue?.count == 5)
        }
    }
}

private func criterionJSON(_ field: String, _ op: String, _ value: JSONValue) -> JSONValue {
    ["criteria": [["field": .string(field), "op": .string(op), "value": value]]]
}
