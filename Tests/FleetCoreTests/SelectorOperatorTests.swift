import Testing

@testable import FleetCore

@Suite("selector operators")
struct SelectorOperatorTests {
    @Test(
        arguments: [
            ("platform", "equals", JSONValue("linux"), ["web-1", "web-2"]),
            ("platform", "not_equals", "linux", ["db-1", "mac-1", "win-1"]),
            ("fqdn", "contains", ".PROD.", ["db-1", "web-1"]),
            ("fqdn", "not_contains", ".prod.", ["mac-1", "web-2", "win-1"]),
            ("platform", "in", ["linux", "freebsd"], ["db-1", "web-1", "web-2"]),
            ("platform", "not_in", ["linux"], ["db-1", "mac-1", "win-1"]),
            ("fqdn", "matches", "^(web|db)-\\d\\.prod", ["db-1", "web-1"]),
            ("fqdn", "starts_with", "mac", ["mac-1"]),
            ("fqdn", "ends_with", ".COM", ["db-1", "mac-1", "web-1", "web-2"]),
            ("fqdn", "exists", true, ["db-1", "mac-1", "web-1", "web-2"]),
            ("fqdn", "exists", false, ["win-1"]),
            ("cpu_cores", "gt", 8, ["db-1", "mac-1"]),
            ("cpu_cores", "gte", 8, ["db-1", "mac-1", "web-1"]),
            ("cpu_cores", "lt", 8, ["web-2"]),
            ("cpu_cores", "lte", 8.0, ["web-1", "web-2"]),
            ("cpu_cores", "in", [4, 10], ["mac-1", "web-2"]),
            ("memory_total_mb", "equals", 8192, ["web-2"]),
            ("tags", "equals", "prod", ["db-1", "web-1"]),
            ("tags", "not_equals", "prod", ["mac-1", "web-2", "win-1"]),
            ("tags", "in", ["db", "webserver"], ["db-1", "web-1", "web-2"]),
            ("tags", "not_in", ["webserver"], ["db-1", "mac-1", "win-1"]),
            ("tags", "matches", "^d", ["db-1"]),
            ("enabled_shells", "contains", "shell", ["win-1"]),
            ("active", "equals", false, ["db-1"]),
            ("active", "not_equals", true, ["db-1", "mac-1", "win-1"]),
            ("reboot_required", "equals", true, ["db-1"]),
            ("approval_status", "equals", "APPROVED", ["web-1", "web-2", "win-1"]),
            ("platform_release", "matches", "ubuntu 2[0-9]\\.04", ["web-1"]),
            ("facts.rack", "equals", "R12", ["web-1"]),
            ("facts.load", "gt", 1, ["web-2"]),
            ("facts.load", "lte", 0.75, ["web-1"]),
            ("facts.gpu", "equals", false, ["web-1"]),
            ("facts.rack", "exists", false, ["db-1", "mac-1", "win-1"]),
            ("facts.rack", "starts_with", "r1", ["web-1"]),
            ("id", "in", ["win-1", "nope"], ["win-1"]),
        ] as [(String, String, JSONValue, [String])])
    func operatorSelectsExactly(field: String, op: String, value: JSONValue, expected: [String]) throws {
        #expect(try select(criterion(field, op, value)) == expected)
    }

    @Test func combinatorsNest() throws {
        let anyOf: JSONValue = [
            "criteria": [
                [
                    "any": [
                        ["field": "platform", "op": "equals", "value": "freebsd"],
                        ["field": "platform", "op": "equals", "value": "macos"],
                    ]
                ]
            ]
        ]
        #expect(try select(anyOf) == ["db-1", "mac-1"])
        let notLinux: JSONValue = ["criteria": [["not": ["field": "platform", "op": "equals", "value": "linux"]]]]
        #expect(try select(notLinux) == ["db-1", "mac-1", "win-1"])
        let nested: JSONValue = [
            "criteria": [
                [
                    "all": [
                        [
                            "any": [
                                ["field": "tags", "op": "equals", "value": "prod"],
                                ["field": "platform", "op": "equals", "value": "windows"],
                            ]
                        ],
                        ["not": ["field": "approval_status", "op": "equals", "value": "pending"]],
                    ]
                ]
            ]
        ]
        #expect(try select(nested) == ["web-1", "win-1"])
    }

    @Test func criteriaAndShortcutsAreAndedTogether() throws {
        let json: JSONValue = [
            "platforms": ["LINUX"], "tags": ["webserver"], "approval_status": "approved",
            "criteria": [["field": "cpu_cores", "op": "gte", "value": 8]],
        ]
        #expect(try select(json) == ["web-1"])
    }
}

@Suite("selector set rules")
struct SelectorSetTests {
    @Test func seedExampleSelectsTheProductionUbuntuWebservers() throws {
        var hosts = sampleHosts
        hosts.append(
            host([
                "id": "u-1", "fqdn": "u-1.prod.example.com", "platform": "Linux", "platform_release": "Ubuntu",
                "tags": ["webserver"], "approval_status": "approved",
            ]))
        hosts.append(
            host([
                "id": "u-2", "fqdn": "u-2.dev.example.com", "platform": "Linux", "platform_release": "ubuntu",
                "tags": ["webserver"], "approval_status": "approved",
            ]))
        hosts.append(host(["id": "..uuid-special..", "platform": "Windows"]))
        let seed: JSONValue = [
            "explicit_host_ids": ["..uuid-special.."],
            "criteria": [
                ["field": "platform_release", "op": "equals", "value": "ubuntu"],
                ["field": "fqdn", "op": "contains", "value": ".prod."],
            ],
            "platforms": ["linux"], "tags": ["webserver"], "approval_status": "approved",
        ]
        let selection = InventoryIndex(hosts).select(try compile(seed))
        #expect(selection.hostIDs == ["..uuid-special..", "u-1"])
        #expect(selection.count == 2)
    }

    @Test func emptySelectorSelectsNothingButAllHostsSelectsEverything() throws {
        #expect(try select([:]) == [])
        #expect(try select(["criteria": []]) == [])
        #expect(try select(["all_hosts": true]) == sampleHosts.map(\.id).sorted())
    }

    @Test func explicitIdsAreUnitedAndUnknownOnesReported() throws {
        let s = InventoryIndex(sampleHosts).select(try compile(["explicit_host_ids": ["win-1", "ghost", "win-1"], "tags": ["db"]]))
        #expect(s.hostIDs == ["db-1", "win-1"])
        #expect(s.unknownHostIDs == ["ghost"])
    }

    @Test func exclusionWinsOverEverything() throws {
        #expect(try select(["platforms": ["linux"], "exclude_host_ids": ["web-2"]]) == ["web-1"])
        #expect(try select(["explicit_host_ids": ["win-1"], "exclude_host_ids": ["win-1"]]) == [])
    }

    @Test func groupsShortcutUsesEffectiveMembership() throws {
        let groups: [String: Set<String>] = ["g-web": ["web-1", "web-2"], "g-db": ["db-1"]]
        #expect(try select(["groups": ["g-web", "g-db"], "platforms": ["linux", "freebsd"]], groups: groups) == ["db-1", "web-1", "web-2"])
        #expect(try select(["groups": ["g-db"], "tags": ["webserver"]], groups: groups) == [])
    }

    @Test func explainSaysWhoLetEachHostInAndWhatKeptOthersOut() throws {
        let json: JSONValue = [
            "explicit_host_ids": ["win-1"], "platforms": ["linux"],
            "criteria": [["field": "cpu_cores", "op": "gt", "value": 4]], "exclude_host_ids": ["mac-1"],
        ]
        let s = InventoryIndex(sampleHosts).select(try compile(json), explain: true)
        let e = try #require(s.explanation)
        #expect(s.hostIDs == ["web-1", "win-1"])
        #expect(e.admitted.first { $0.hostID == "win-1" }?.admittedBy == "explicit_host_ids")
        #expect(e.admitted.first { $0.hostID == "web-1" }?.clauses == ["criteria[0]", "platforms"])
        let why = Dictionary(uniqueKeysWithValues: e.rejected.map { ($0.hostID, $0.rejectedBy) })
        #expect(why == ["db-1": "platforms", "mac-1": "exclude_host_ids", "web-2": "criteria[0]"])
    }

    @Test func explainListsAtMostAHundredRejectedHosts() throws {
        let hosts = (0..<250).map { host(["id": .string("h-\($0)"), "platform": "Linux"]) }
        let s = InventoryIndex(hosts).select(try compile(["platforms": ["windows"]]), explain: true)
        #expect(s.explanation?.rejected.count == 100)
        #expect(s.explanation?.rejected.first?.rejectedBy == "platforms")
    }
}

@Suite("selector errors")
struct SelectorErrorTests {
    @Test(
        arguments: [
            (criterion("colour", "equals", "red"), "criteria[0].field", FieldError.Code.unknownField),
            (criterion("fqdn", "like", "x"), "criteria[0].op", .invalidValue),
            (criterion("platform", "in", "linux"), "criteria[0].value", .invalidType),
            (criterion("fqdn", "gt", "a"), "criteria[0].op", .invalidValue),
            (criterion("cpu_cores", "contains", "4"), "criteria[0].op", .invalidValue),
            (criterion("cpu_cores", "equals", "4"), "criteria[0].value", .invalidType),
            (criterion("cpu_cores", "gt", "4"), "criteria[0].value", .invalidType),
            (criterion("active", "equals", "true"), "criteria[0].value", .invalidType),
            (criterion("fqdn", "exists", "yes"), "criteria[0].value", .invalidType),
            (criterion("fqdn", "matches", "(a"), "criteria[0].value", .invalidValue),
            (criterion("fqdn", "matches", .string(String(repeating: "a", count: 513))), "criteria[0].value", .invalidValue),
            (criterion("platform", "in", ["linux", 3]), "criteria[0].value[1]", .invalidType),
            (criterion("facts.", "equals", "x"), "criteria[0].field", .invalidValue),
            (
                ["criteria": [["any": [["field": "fqdn", "op": "exists", "value": true], ["field": "nope", "op": "equals", "value": 1]]]]],
                "criteria[0].any[1].field", .unknownField
            ),
            (["criteria": [["field": "fqdn", "op": "equals"]]], "criteria[0].value", .required),
            (["criteria": [["op": "equals", "value": 1]]], "criteria[0].field", .required),
            (["criteria": [["field": "fqdn", "op": "equals", "value": "x", "extra": 1]]], "criteria[0].extra", .unknownField),
            (["criteria": [["any": []]]], "criteria[0].any", .invalidType),
            (["criteria": "x"], "criteria", .invalidType),
            (["colour": "red"], "colour", .unknownField),
            (["tags": "web"], "tags", .invalidType),
            (["approval_status": "sure"], "approval_status", .invalidValue),
            (["all_hosts": "yes"], "all_hosts", .invalidType),
            (["groups": ["missing"]], "groups[0]", .unknownGroup),
        ] as [(JSONValue, String, FieldError.Code)])
    func rejectsNamingTheField(json: JSONValue, field: String, code: FieldError.Code) {
        do {
            _ = try compile(json)
            Issue.record("expected a validation error for \(field)")
        } catch let error as ValidationError {
            #expect(error.errors.contains { $0.field == field && $0.code == code }, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func invalidPatternSaysWhere() {
        do {
            _ = try compile(criterion("fqdn", "matches", "ab[c"))
            Issue.record("expected an error")
        } catch let error as ValidationError {
            #expect(error.errors[0].message.contains("offset 2"), "\(error)")
        } catch { Issue.record("\(error)") }
    }
}

@Suite("inventory index updates")
struct InventoryIndexTests {
    @Test func upsertAndDeleteUpdateTheIndexesInPlace() throws {
        var index = InventoryIndex(sampleHosts)
        let webservers = try compile(["tags": ["webserver"]])
        #expect(index.select(webservers).hostIDs == ["web-1", "web-2"])
        index.upsert(host(["id": "web-2", "tags": ["retired"]]))
        #expect(index.select(webservers).hostIDs == ["web-1"])
        let removed = index.remove("web-1")
        #expect(removed)
        let removedAgain = index.remove("web-1")
        #expect(!removedAgain)
        #expect(index.select(webservers).hostIDs == [])
        index.upsert(host(["id": "web-9", "tags": ["WebServer"]]))  // reuses a freed ordinal
        #expect(index.select(webservers).hostIDs == ["web-9"])
        #expect(index.count == sampleHosts.count)
        #expect(try index.select(compile(["tags": ["retired"]])).hostIDs == ["web-2"])
    }
}
