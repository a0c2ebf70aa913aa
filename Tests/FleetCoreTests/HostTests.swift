import Foundation
import Testing

@testable import FleetCore

@Suite("host model")
struct HostTests {
    @Test func decodesEveryFieldTypeAndRoundTrips() throws {
        let json: JSONValue = [
            "id": "h-1.a_b:c", "fqdn": "h1.example.com", "platform": "Linux", "approval_status": "Approved",
            "active": true, "cpu_cores": 4, "tags": ["a", "b", "a"], "last_access": "2026-01-02T03:04:05Z",
            "facts": ["k": "v", "n": 3, "f": 1.5, "b": true],
        ]
        let h = try FleetHost(json: json)
        #expect(h.id == "h-1.a_b:c")
        #expect(h[.approvalStatus] == .string("approved"))
        #expect(h[.tags] == .strings(["a", "b"]))
        #expect(h[.cpuCores] == .int(4))
        #expect(h.facts["n"] == .number(3))
        #expect(try FleetHost(json: h.json) == h)
        let data = try JSONEncoder().encode(h)
        #expect(try JSONDecoder().decode(FleetHost.self, from: data) == h)
    }

    @Test(
        arguments: [
            (["fqdn": "x"], "id"),
            (["id": ""], "id"),
            (["id": "bad id"], "id"),
            (["id": .string(String(repeating: "a", count: 129))], "id"),
            (["id": "h", "colour": "red"], "colour"),
            (["id": "h", "cpu_cores": "four"], "cpu_cores"),
            (["id": "h", "cpu_cores": -1], "cpu_cores"),
            (["id": "h", "active": "yes"], "active"),
            (["id": "h", "tags": "web"], "tags"),
            (["id": "h", "tags": ["ok", 3]], "tags[1]"),
            (["id": "h", "approval_status": "maybe"], "approval_status"),
            (["id": "h", "status": "sideways"], "status"),
            (["id": "h", "last_access": "yesterday"], "last_access"),
            (["id": "h", "facts": ["nested": ["a": 1]]], "facts.nested"),
            (["id": "h", "facts": "x"], "facts"),
        ] as [(JSONValue, String)])
    func rejectsBadHostsNamingTheField(json: JSONValue, field: String) {
        #expect(throws: ValidationError.self) { try FleetHost(json: json) }
        do { _ = try FleetHost(json: json) } catch { #expect(error.errors.contains { $0.field == field }, "\(error)") }
    }

    @Test func reportsEveryErrorAtOnce() {
        do {
            _ = try FleetHost(json: ["id": "h", "colour": "red", "cpu_cores": "x"])
            Issue.record("expected errors")
        } catch {
            #expect(Set(error.errors.map(\.field)) == ["colour", "cpu_cores"])
        }
    }
}

@Suite("host fields")
struct HostFieldTests {
    @Test func ordinalsAreDensePositionsInDeclarationOrder() {
        #expect(HostField.allCases.enumerated().allSatisfy { $0.offset == $0.element.ordinal })
    }
}
