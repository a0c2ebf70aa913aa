import FleetContracts
import FleetCore
import Foundation
import Testing

/// The commands that cross services, their replies, the progress shapes and the events on
/// `fleet.events`, each against its golden JSON (see GoldenFixtureTests).
@Suite("commands, replies and events against their golden JSON")
struct CommandAndEventFixtureTests {
    let golden = GoldenFixtureTests()

    static let progress = BulkProgress(ProgressCounters(total: 4, queued: 1, running: 1, succeeded: 1, failed: 1, skipped: 0))

    @Test func selectorResolve() throws {
        try golden.check(ResolveRequest(selector: ["groups": ["web"], "tags": ["webserver"]], partitionByApproval: true))
        try golden.check(
            ResolveReply(
                hostIDs: ["web-1", "web-2"], notApprovedHostIDs: ["web-2"],
                explanation: .init(
                    admitted: [.init(hostID: "web-1", admittedBy: "groups", clauses: ["platform"])],
                    rejected: [.init(hostID: "db-1", rejectedBy: "platform")])))
    }

    @Test func hosts() throws {
        var report = HostReport(id: "web-1")
        report.fqdn = "web-1.example"
        report.cpuCores = 4
        report.enabledShells = ["bash", "sh"]
        report.status = "up"
        try golden.check(report)
        try golden.check(HostsUpsert(hosts: [["id": "sim-0", "approval_status": "approved", "tags": ["sim"]]]))
        try golden.check(HostsUpserted(upserted: 2000, created: 12))
        try golden.check(HostsPage(hosts: [["id": "web-1"]], nextCursor: nil))
        try golden.check(Deleted(id: "g-web", reparented: ["g-web-eu"]))
    }

    @Test func bulk() throws {
        try golden.check(
            BulkCreate(
                operationType: "run_script", selector: ["groups": ["web"]], parameters: ["content": "uptime"], deliveryTimeoutSeconds: 600,
                concurrency: "25%", dispatch: false))
        try golden.check(
            BulkOperation(
                id: "op-2ao62yafcj4ed", operationType: "run_script", parameters: ["content": "uptime", "shell": "bash", "timeout_seconds": 300],
                selector: ["groups": ["web"]], allowEmpty: false, deliveryTimeoutSeconds: 600, concurrency: .null,
                createdAt: "2026-12-01T10:00:00Z", status: .running, progress: Self.progress))
        try golden.check(Self.progress)
        try golden.check(BulkDispatch(id: "op-2ao62yafcj4ed", hostIDs: ["web-1", "web-2"]))
        try golden.check(BulkDispatched(dispatched: ["web-2"]))
        try golden.check(BulkCancel(id: "op-2ao62yafcj4ed", reason: .halted))
        try golden.check(
            BulkHostsPage(
                hosts: [
                    .init(hostID: "web-1", status: .failed, reason: .exitCode), .init(hostID: "web-2", status: .queued, reason: nil),
                    .init(hostID: "web-3", status: .queued, reason: nil, waiting: .locked),
                ], nextCursor: "web-3"))
    }

    @Test func budgets() throws {
        try golden.check(BudgetSet(operationType: "reboot", maxInFlight: 50))
        try golden.check(Budget(operationType: "reboot", maxInFlight: 50, inFlight: 12))
        try golden.check(
            BudgetList(budgets: [
                Budget(operationType: "reboot", maxInFlight: 50, inFlight: 12), Budget(operationType: "shutdown", maxInFlight: nil, inFlight: 0),
            ]))
    }

    @Test func rolling() throws {
        let settings = try RolloutSettings(json: ["batch_size": 2, "batches": [1, "50%"], "batch_delay_seconds": 30, "failure_threshold_pct": 25])
        let operation = BulkCreate(operationType: "reboot", selector: ["explicit_host_ids": ["web-1", "web-2", "web-3", "web-4"]], deliveryTimeoutSeconds: 600)
        try golden.check(RollingCreate(operation: operation, settings: settings))
        let progress = RollingProgress(
            counters: Self.progress, status: .running, currentBatch: 2, totalBatches: 3, failureBudget: 1, failedCounted: 1,
            nextBatchAt: nil)
        try golden.check(progress)
        try golden.check(
            RollingDeployment(
                id: "ro-1kq3x", operationType: "reboot", selector: operation.selector, parameters: ["delay_seconds": 0], settings: settings,
                plan: settings.plan(total: 4), bulkOperationID: "op-2ao62yafcj4ed",
                createdAt: "2026-12-01T10:00:00.000Z", progress: progress))
        let plan = RolloutPlan(
            total: 3, batchSize: .count(2), failureThresholdPct: nil, maxFailures: 1, canary: CanarySettings(hosts: .count(1), soakSeconds: 60),
            delaySeconds: 30)
        try golden.check(PlanPreview(rollout: plan, hostIDs: ["web-1", "web-2", "web-3"], notApproved: ["web-2"]))
        // A deployment stored before the policy fields still decodes, with their defaults.
        let url = GoldenFixtureTests.fixtures.appendingPathComponent("rolling.deployment.v1.before-policy.json")
        let old = try RollingDeployment.decode(Array(try Data(contentsOf: url)))
        #expect(old.plan.policy == .everyFailure && old.plan.canary == nil && old.gates == .array([]) && old.haltCode == nil)
    }

    @Test func parametersByReference() throws {
        try golden.check(ParametersChunkRequest(opID: "op-2ao62yafcj4ed", hostID: "web-01", offset: 1_048_576, length: 1_048_576))
        try golden.check(ParametersChunk(offset: 0, data: "eyJjb250ZW50Ijoi", size: 13_981_100))
        let command = AgentCommand(
            opID: "op-2ao62yafcj4ed", hostID: "web-1", operationType: .deployFile, parameters: [:],
            parametersRef: ParametersRef(sha256: String(repeating: "ab", count: 32), size: 13_981_100), timeoutSeconds: 300)
        #expect(try AgentCommand.decode(command.encoded) == command)
        #expect(String(decoding: command.encoded, as: UTF8.self).contains(#""parameters_ref":{"sha256":"#))
    }

    @Test func events() throws {
        func stamped<E: FleetEvent>(_ e: E) -> E {
            var e = e
            e.at = "2026-12-01T10:00:00.000Z"
            return e
        }
        try golden.check(stamped(HostsChanged(upserted: 1, hostIDs: ["web-1"])))
        try golden.check(stamped(BulkHostEnded(opID: "op-2ao62yafcj4ed", hostID: "web-1", status: .succeeded, reason: nil)))
        try golden.check(stamped(BulkFinished(opID: "op-2ao62yafcj4ed", status: .partial)))
        try golden.check(stamped(RollingBatchStarted(rollingID: "ro-1kq3x", batch: 2, totalBatches: 3, hosts: 2)))
        try golden.check(
            stamped(RollingHalted(rollingID: "ro-1kq3x", haltedReason: "2 failed hosts exceeded the failure budget of 1", failed: 2, failureBudget: 1)))
        try golden.check(stamped(RollingFinished(rollingID: "ro-1kq3x", status: .succeeded, haltedReason: nil)))
        try golden.check(
            stamped(ScheduleFired(scheduleID: "sch-nightly", fireAt: "2026-12-01T02:00:00.000Z", trigger: "cron", operationID: "op-2ao62yafcj4ed")))
    }

    /// A selector request keeps its selector's fields beside the options, and reads them back apart.
    @Test func resolveRequestSplitsOptionsFromTheSelector() throws {
        let r = try ResolveRequest.decode(Array(#"{"explain":true,"explicit_host_ids":["a"],"where":{"platform":"x"}}"#.utf8))
        #expect(r.explain && !r.partitionByApproval)
        #expect(r.selector == ["explicit_host_ids": ["a"], "where": ["platform": "x"]])
    }

    /// A cancel names only the reasons the dispatcher knows, and an event its terminal status.
    @Test(arguments: [
        (#"{"id":"op-1","reason":"later"}"#, "reason"),
        (#"{"reason":"halted"}"#, "id"),
    ])
    func badCancelsNameTheirField(body: String, field: String) {
        do { _ = try BulkCancel.decode(Array(body.utf8)) } catch {
            #expect(error.errors.first?.field == field, "\(error)")
            return
        }
        Issue.record("accepted \(body)")
    }

    @Test func unknownAggregateStatusIsRefused() {
        do { _ = try BulkFinished.decode(Array(#"{"op_id":"o","status":"done","at":"x"}"#.utf8)) } catch {
            #expect(error.errors.first?.field == "status", "\(error)")
            return
        }
        Issue.record("accepted an unknown status")
    }
}
