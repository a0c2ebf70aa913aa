import Testing

@testable import FleetCore

@Suite("host locks and budgets in requests")
struct CoordinationRequestTests {
    private let base: [String: JSONValue] = ["operation_type": "reboot", "selector": ["tags": ["web"]]]

    private func request(_ extra: [String: JSONValue]) throws(ValidationError) -> BulkOperationRequest {
        try BulkOperationRequest(json: .object(base.merging(extra) { $1 }))
    }

    @Test func exclusiveWaitIsTheDefaultAndBothCanBeChosen() throws {
        let plain = try request([:])
        #expect(plain.exclusive && plain.onConflict == .wait)
        let skip = try request(["on_conflict": "skip"])
        #expect(skip.exclusive && skip.onConflict == .skip)
        #expect(try request(["exclusive": false]).exclusive == false)
    }

    @Test func badLockFieldsAreNamed() {
        for (extra, field) in [(["on_conflict": "queue"], "on_conflict"), (["exclusive": "yes"], "exclusive"), (["on_conflict": 1], "on_conflict")]
            as [([String: JSONValue], String)]
        {
            #expect(throws: ValidationError.self) { try request(extra) }
            do { _ = try request(extra) } catch { #expect(error.errors.map(\.field) == [field]) }
        }
    }

    @Test func rolloutsAndSchedulesTakeTheLockFields() throws {
        let rollout = try RolloutRequest(json: .object(base.merging(["batch_size": 1, "on_conflict": "skip", "exclusive": true]) { $1 }))
        #expect(rollout.operation.onConflict == .skip)
        let schedule = try ScheduleRequest(json: .object(base.merging(["name": "nightly", "cron": "0 3 * * *", "exclusive": false]) { $1 }))
        #expect(schedule.operation.exclusive == false)
    }

    @Test func budgetsAreValidatedFieldByField() {
        let good = try? ConcurrencyBudget(json: ["operation_type": "reboot", "max_in_flight": 50])
        #expect(good == ConcurrencyBudget(operationType: .reboot, maxInFlight: 50))
        let cases: [(JSONValue, Set<String>)] = [
            (["operation_type": "reboot"], ["max_in_flight"]),
            (["operation_type": "reboot", "max_in_flight": 0], ["max_in_flight"]),
            (["operation_type": "reboot", "max_in_flight": "50"], ["max_in_flight"]),
            (["operation_type": "format", "max_in_flight": 5], ["operation_type"]),
            (["operation_type": "reboot", "max_in_flight": 5, "burst": 2], ["burst"]),
        ]
        for (json, fields) in cases {
            do {
                _ = try ConcurrencyBudget(json: json)
                Issue.record("accepted \(json)")
            } catch { #expect(Set(error.errors.map(\.field)) == fields, "\(json)") }
        }
    }

    @Test func aLeaseOutlastsEverythingAHostCanStillDo() {
        #expect(HostLease.milliseconds(deliveryTimeoutSeconds: 600, timeoutSeconds: 300, graceMilliseconds: 5_000) == 910_000)
    }
}
