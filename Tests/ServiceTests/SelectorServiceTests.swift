import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

@Suite("selector service over the bus")
struct SelectorServiceTests {
    @Test func seedSelectExampleEndToEnd() async throws {
        let s = try await ServiceStack.shared.handle()
        let zone = unique("z")
        let special = unique("special-")
        let hosts: [JSONValue] = [
            [
                "id": .string("\(zone)-a"), "fqdn": .string("a.prod.\(zone).example"), "platform": "Linux", "platform_release": "Ubuntu",
                "tags": ["webserver"], "approval_status": "approved",
            ],
            [
                "id": .string("\(zone)-b"), "fqdn": .string("b.dev.\(zone).example"), "platform": "Linux", "platform_release": "ubuntu",
                "tags": ["webserver"], "approval_status": "approved",
            ],
            [
                "id": .string("\(zone)-c"), "fqdn": .string("c.prod.\(zone).example"), "platform": "Windows", "platform_release": "ubuntu",
                "tags": ["webserver"], "approval_status": "approved",
            ],
            ["id": .string(special), "platform": "FreeBSD"],
        ]
        let upsert = await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)])
        #expect(upsert.status == 200, "\(upsert)")
        #expect(upsert.body?["upserted"] == 4)
        let reply = await s.bus.call(
            Route.selectorResolve,
            [
                "explicit_host_ids": [.string(special)],
                "criteria": [
                    ["field": "platform_release", "op": "equals", "value": "ubuntu"],
                    ["field": "fqdn", "op": "contains", "value": .string(".prod.\(zone).")],
                ],
                "platforms": ["linux"], "tags": ["webserver"], "approval_status": "approved",
            ])
        #expect(reply.status == 200)
        #expect(reply.hostIDs == ["\(zone)-a", special].sorted())
        #expect(reply.body?["count"] == 2)
    }

    @Test func hostRegisteredAMomentAgoIsSelectableOnEveryReplica() async throws {
        let s = try await ServiceStack.shared.handle()
        // A second replica: commands now land on either one at random (its command lines logged
        // like the first's: the observability test follows a request id into whichever answers).
        let replica = try ServiceProcess("fleet-selector", environment: ["FLEET_LOG_LEVEL": "debug"])
        defer { replica.stop() }
        #expect(await replica.waitForLog("serving"), "\(replica.log.suffix(1500))")
        let tag = unique("fresh")
        for i in 0..<20 {
            let id = "\(tag)-\(i)"
            #expect(await s.bus.call(Route.hostsUpsert, ["id": .string(id), "tags": [.string(tag)]]).status == 200)
            let r = await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)]])
            #expect(r.hostIDs.count == i + 1, "replica missed host \(id)")
        }
        #expect(await s.bus.call(Route.hostsDelete, ["id": .string("\(tag)-0")]).status == 200)
        #expect(await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)]]).hostIDs.count == 19)
    }

    @Test func getDeleteAndPagedList() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("page")
        let hosts: [JSONValue] = (0..<25).map { ["id": .string("\(tag)-\(String(format: "%02d", $0))"), "tags": [.string(tag)]] }
        #expect(await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)]).body?["created"] == 25)
        let got = await s.bus.call(Route.hostsGet, ["id": .string("\(tag)-03")])
        #expect(got.body?["tags"] == [.string(tag)])
        #expect(await s.bus.call(Route.hostsGet, ["id": "no-such-host"]).status == 404)
        var seen: [String] = []
        var cursor: JSONValue = .null
        for _ in 0..<10 {
            let page = await s.bus.call(Route.hostsList, ["selector": ["tags": [.string(tag)]], "limit": 10, "cursor": cursor])
            seen += page.body?["hosts"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            cursor = page.body?["next_cursor"] ?? .null
            if cursor == .null { break }
        }
        #expect(seen == (0..<25).map { "\(tag)-\(String(format: "%02d", $0))" })
        #expect(await s.bus.call(Route.hostsDelete, ["id": .string("\(tag)-03")]).status == 200)
        #expect(await s.bus.call(Route.hostsDelete, ["id": .string("\(tag)-03")]).status == 404)
        #expect(await s.bus.call(Route.hostsList, ["limit": 0]).errorFields == ["limit"])
    }

    @Test func badInputIs422NamingTheField() async throws {
        let s = try await ServiceStack.shared.handle()
        let cases: [(String, JSONValue, String)] = [
            (Route.selectorResolve, ["criteria": [["field": "colour", "op": "equals", "value": "red"]]], "criteria[0].field"),
            (Route.selectorResolve, ["criteria": [["field": "fqdn", "op": "like", "value": "x"]]], "criteria[0].op"),
            (Route.selectorResolve, ["groups": ["no-such-group"]], "groups[0]"),
            (Route.selectorResolve, ["criteria": [["field": "fqdn", "op": "matches", "value": "(unclosed"]]], "criteria[0].value"),
            (Route.hostsUpsert, ["hosts": [["id": "ok-1"], ["id": "bad id"]]], "hosts[1].id"),
            (Route.hostsUpsert, ["id": "h", "colour": "red"], "colour"),
            (Route.selectorResolve, ["explicit_host_ids": ["a"], "explain": "yes"], "explain"),
            (Route.hostsReport, ["id": "h", "cpu_cores": "four"], "cpu_cores"),
            (Route.hostsReport, ["fqdn": "h.example"], "id"),
        ]
        for (route, body, field) in cases {
            let r = await s.bus.call(route, body)
            #expect(r.status == 422, "\(route) \(body)")
            #expect(r.error?.error == "validation_failed")
            #expect(r.errorFields.contains(field), "\(r.errorFields)")
        }
        #expect(await s.bus.call(Route.hostsGet, ["id": "ok-1"]).status == 404, "a rejected batch writes nothing")
    }

    /// An agent's report replaces the detected facts and nothing the operator set; a host not yet
    /// known is created from it, pending approval.
    @Test func aReportKeepsWhatTheOperatorSet() async throws {
        let s = try await ServiceStack.shared.handle()
        let known = unique("rep")
        let operatorSet: JSONValue = [
            "id": .string(known), "fqdn": "old.example", "platform": "Linux", "approval_status": "approved", "tags": ["db"],
        ]
        #expect(await s.bus.call(Route.hostsUpsert, operatorSet).status == 200)
        var report = HostReport(id: known)
        report.fqdn = "new.example"
        report.cpuCores = 8
        let merged = await s.bus.call(Route.hostsReport, report.json)
        #expect(merged.status == 200, "\(merged)")
        let stored = try #require(await s.bus.call(Route.hostsGet, ["id": .string(known)]).body)
        #expect(stored["fqdn"] == "new.example")
        #expect(stored["cpu_cores"] == 8)
        #expect(stored["approval_status"] == "approved")
        #expect(stored["tags"] == ["db"])
        #expect(stored["platform"] == "Linux", "a fact the report leaves out stays")

        let fresh = unique("rep-new")
        #expect(await s.bus.call(Route.hostsReport, HostReport(id: fresh).json).status == 200)
        let created = try #require(await s.bus.call(Route.hostsGet, ["id": .string(fresh)]).body)
        #expect(created["approval_status"] == nil, "an agent does not approve itself")
    }

    @Test func emptySelectorSelectsNothing() async throws {
        let s = try await ServiceStack.shared.handle()
        _ = await s.bus.call(Route.hostsUpsert, ["id": .string(unique("e"))])
        let r = await s.bus.call(Route.selectorResolve, [:])
        #expect(r.status == 200)
        #expect(r.hostIDs.isEmpty)
        #expect(r.body?["count"] == 0)
    }

    @Test func hostileRegexAnswersFast() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("evil")
        let hosts: [JSONValue] = (0..<2000).map {
            ["id": .string("\(tag)-\($0)"), "tags": [.string(tag)], "fqdn": .string(String(repeating: "a", count: 30) + "!")]
        }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)])
        // A backtracking engine would not answer at all; the bound is the caller's timeout (504).
        let reply = await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)], "criteria": [["field": "fqdn", "op": "matches", "value": "(a+)+$"]]])
        #expect(reply.status == 200)
        #expect(reply.body?["count"] == 0)
    }

    @Test func explainSaysWhy() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("why")
        _ = await s.bus.call(
            Route.hostsUpsert,
            [
                "hosts": [
                    ["id": .string("\(tag)-in"), "tags": [.string(tag)], "platform": "Linux"],
                    ["id": .string("\(tag)-out"), "tags": [.string(tag)], "platform": "Windows"],
                ]
            ])
        let r = await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)], "platforms": ["linux"], "explain": true])
        #expect(r.hostIDs == ["\(tag)-in"])
        let admitted = r.body?["explanation"]?["admitted"]?.arrayValue ?? []
        #expect(admitted.first?["admitted_by"] == "criteria")
    }
}
