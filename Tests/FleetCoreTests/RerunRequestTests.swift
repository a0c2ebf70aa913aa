import Testing

@testable import FleetCore

@Suite("rerun requests")
struct RerunRequestTests {
    @Test func itMatchesByStatusAndOptionallyReason() throws {
        let failed = try RerunRequest(json: ["id": "op-1", "statuses": ["failed"]])
        #expect(failed.matches(.failed, .exitCode) && failed.matches(.failed, .undeliverable))
        #expect(!failed.matches(.skipped, .halted) && !failed.matches(.succeeded, nil))
        let narrow = try RerunRequest(json: ["id": "op-1", "statuses": ["failed", "skipped"], "reasons": ["timed_out", "halted"]])
        #expect(narrow.matches(.failed, .timedOut) && narrow.matches(.skipped, .halted))
        #expect(!narrow.matches(.failed, .exitCode) && !narrow.matches(.skipped, .notApproved))
    }

    @Test(
        arguments: [
            (["id": "op-1"], "statuses"), (["id": "op-1", "statuses": []], "statuses"), (["id": "op-1", "statuses": ["queued"]], "statuses[0]"),
            (["id": "op-1", "statuses": ["failed"], "reasons": ["nope"]], "reasons[0]"),
            (["id": "op-1", "statuses": ["succeeded"], "reasons": ["exit_code"]], "reasons"), (["statuses": ["failed"]], "id"),
            (["id": "op-1", "statuses": ["failed"], "hosts": []], "hosts"),
        ] as [(JSONValue, String)])
    func badBodiesNameTheirField(body: JSONValue, field: String) {
        do {
            _ = try RerunRequest(json: body)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.errors.contains { $0.field == field }, "\(error)")
        }
    }
}
