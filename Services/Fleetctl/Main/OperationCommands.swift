import ArgumentParser
import FleetCore
import FleetctlKit
import Foundation

struct Bulk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bulk operations.",
        subcommands: [Create.self, List.self, Get.self, Progress.self, HostResults.self, Cancel.self, Rerun.self, Watch.self])
    static let columns = ["id", "operation_type", "status", "total", "created_at"]

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an operation on every selected host.",
            discussion: "fleetctl bulk create --type run_script --tags web --param content='uptime' --wait")
        @OptionGroup var global: Global
        @OptionGroup var operation: OperationFlags
        @Option(help: "At most this many hosts at once (n or p%).") var concurrency: String?
        @Flag(help: "Create it even if the selector resolves to no host.") var allowEmpty = false
        @Option(help: "Idempotency-Key: the same key and body return the original.") var idempotencyKey: String?
        @Flag(help: "Watch its progress until it ends; exit 2 unless it succeeded.") var wait = false
        @Option(help: "With --wait: give up after this many seconds (0: never).") var timeout = 3600
        func run() async throws {
            try await FleetctlMain.run {
                var b = try operation.builder()
                b.set("concurrency", RequestBuilder.size(concurrency))
                if allowEmpty { b.set("allow_empty", true) }
                let created = try await global.client.call(.POST, "/bulk", b.json, idempotencyKey: idempotencyKey)
                guard wait, let id = created["id"]?.stringValue else { return global.show(created) }
                print(id)
                try await watch(
                    global.client, path: "/bulk/\(seg(id))", progressOf: { $0["progress"] ?? .null }, timeout: timeout, events: "operation=\(seg(id))")
            }
        }
    }
    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        @OptionGroup var page: PageFlags
        @Option(help: "Only operations with this status.") var status: AggregateStatus?
        func run() async throws {
            try await global.request(.GET, page.path("/bulk", status: status?.rawValue), list: "operations", columns: Bulk.columns)
        }
    }
    struct Get: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/bulk/\(seg(id))") }
    }
    struct Progress: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/bulk/\(seg(id))/progress") }
    }
    struct HostResults: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hosts", abstract: "Per-host statuses.")
        @OptionGroup var global: Global
        @Argument var id: String
        @Option(help: "Only hosts with this status.") var status: HostStatus?
        @OptionGroup var page: PageFlags
        func run() async throws {
            try await global.request(
                .GET, page.path("/bulk/\(seg(id))/hosts", status: status?.rawValue), list: "hosts", columns: ["host_id", "status", "reason"])
        }
    }
    struct Cancel: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.POST, "/bulk/\(seg(id))/cancel") }
    }
    struct Rerun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new operation over the hosts that failed (or were skipped); same type and parameters.",
            discussion: "fleetctl bulk rerun op-123 --failed --reasons exit_code,timed_out")
        @OptionGroup var global: Global
        @Argument var id: String
        @OptionGroup var which: RerunFlags
        func run() async throws { try await global.request(.POST, "/bulk/\(seg(id))/rerun", which.body()) }
    }
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A live progress bar until the operation ends; exit 2 unless it succeeded.")
        @OptionGroup var global: Global
        @Argument var id: String
        @Option var timeout = 3600
        func run() async throws {
            try await FleetctlMain.run {
                try await watch(
                    global.client, path: "/bulk/\(seg(id))", progressOf: { $0["progress"] ?? .null }, timeout: timeout, events: "operation=\(seg(id))")
            }
        }
    }
}

/// Rollout settings flags, shared by `rolling create` and `schedules create --batch-size`.
struct RolloutFlags: ParsableArguments {
    @Option(help: "Hosts per batch: n or p%.") var batchSize: String?
    @Option(help: "A ramp of batch sizes, comma-separated (1,5,25%); the last repeats.") var batches: String?
    @Option(help: "Seconds between batches.") var delay: Int?
    @Option(help: "Halt when failed hosts exceed this percentage of all hosts.") var threshold: Double?
    @Option(help: "Halt when more than this many hosts failed (with --threshold, the stricter wins).") var maxFailures: Int?
    @Option(help: "The failure reasons that count toward the budget, comma-separated (default: all).") var count: String?
    @Option(help: "Halt when more than this percentage of hosts was never reached (undeliverable).") var maxUnreached: Double?
    @Option(help: "A canary first batch: n or p%.") var canary: String?
    @Option(help: "Seconds the canary soaks before the gates.") var soak: Int?
    @Flag(help: "Wait for `fleetctl rolling promote` after the canary.") var manualPromotion = false
    @Option(help: "An HTTP gate after every batch: a GET that must answer 2xx (repeatable).") var gate: [String] = []
    @Option(help: "An HTTP gate after the canary only (repeatable).") var canaryGate: [String] = []
    @Flag(help: "Wait for `fleetctl rolling promote` after every batch.") var approveEachBatch = false
    @Option(help: "Failure domains: a host field or facts.<key> whose values a batch spreads over.") var spreadBy: String?
    @Option(help: "With --spread-by: at most this many hosts of one value per batch.") var maxPerDomain: Int?
    @Flag(help: "With --spread-by: finish one domain before the next.") var sequentialDomains = false

    var isSet: Bool {
        batchSize != nil || batches != nil || delay != nil || threshold != nil || maxFailures != nil || count != nil || maxUnreached != nil
            || canary != nil || !gate.isEmpty || !canaryGate.isEmpty || approveEachBatch || spreadBy != nil
    }

    func apply(_ b: inout RequestBuilder) {
        b.set("batch_size", RequestBuilder.size(batchSize))
        b.set("batches", batches.map { .array(RequestBuilder.list($0).compactMap(RequestBuilder.size)) })
        b.set("batch_delay_seconds", delay.map { .int(Int64($0)) })
        b.set("failure_threshold_pct", threshold.map { .double($0) })
        b.set("max_failures", maxFailures.map { .int(Int64($0)) })
        if count != nil || maxUnreached != nil {
            var policy: [String: JSONValue] = [:]
            if let count { policy["count"] = .array(RequestBuilder.list(count).map { .string($0) }) }
            if let maxUnreached { policy["max_unreached_pct"] = .double(maxUnreached) }
            b.set("failure_policy", .object(policy))
        }
        if let canary {
            var c: [String: JSONValue] = ["hosts": RequestBuilder.size(canary) ?? .null, "promotion": manualPromotion ? "manual" : "auto"]
            if let soak { c["soak_seconds"] = .int(Int64(soak)) }
            b.set("canary", .object(c))
        }
        var gates: [JSONValue] = gate.map { ["type": "http", "url": .string($0), "after": "every_batch"] }
        gates += canaryGate.map { ["type": "http", "url": .string($0), "after": "canary"] }
        if approveEachBatch { gates.append(["type": "approval", "after": "every_batch"]) }
        if !gates.isEmpty { b.set("gates", .array(gates)) }
        b.set("spread_by", spreadBy.map { .string($0) })
        b.set("max_per_domain", maxPerDomain.map { .int(Int64($0)) })
        if sequentialDomains { b.set("domain_order", "sequential") }
    }
}

/// Which hosts a rerun takes, shared by `bulk rerun` and `rolling rerun`.
struct RerunFlags: ParsableArguments {
    @Flag(help: "The hosts that failed.") var failed = false
    @Flag(help: "The hosts that were skipped.") var skipped = false
    @Flag(help: "The hosts that succeeded.") var succeeded = false
    @Option(help: "Only these reasons, comma-separated (exit_code, timed_out, halted, ...).") var reasons: String?

    func validate() throws {
        guard failed || skipped || succeeded else { throw ArgumentParser.ValidationError("name the hosts to run again: --failed, --skipped or --succeeded") }
    }

    func body() -> JSONValue {
        let statuses = [("failed", failed), ("skipped", skipped), ("succeeded", succeeded)].filter(\.1).map { JSONValue.string($0.0) }
        var body: [String: JSONValue] = ["statuses": .array(statuses)]
        if let reasons { body["reasons"] = .array(RequestBuilder.list(reasons).map { .string($0) }) }
        return .object(body)
    }
}

struct Rolling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rolling deployments.",
        subcommands: [
            Create.self, Plan.self, List.self, Get.self, Progress.self, Pause.self, Resume.self, Cancel.self, Promote.self, Halt.self, Rerun.self,
            Watch.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll an operation out in batches that halt past the failure budget.",
            discussion: "fleetctl rolling create --type reboot --tags web --batch-size 10% --delay 60 --threshold 5 --wait")
        @OptionGroup var global: Global
        @OptionGroup var operation: OperationFlags
        @OptionGroup var rollout: RolloutFlags
        @Option(help: "Start batches only inside this maintenance window (fleetctl windows).") var window: String?
        @Option(help: "Idempotency-Key.") var idempotencyKey: String?
        @Flag(help: "Watch it until it ends; exit 2 unless it succeeded.") var wait = false
        @Option(help: "With --wait: give up after this many seconds (0: never).") var timeout = 3600
        func run() async throws {
            try await FleetctlMain.run {
                var b = try operation.builder()
                rollout.apply(&b)
                b.set("window", window.map { .string($0) })
                let created = try await global.client.call(.POST, "/rolling", b.json, idempotencyKey: idempotencyKey)
                guard wait, let id = created["id"]?.stringValue else { return global.show(created) }
                print(id)
                try await watch(global.client, path: "/rolling/\(seg(id))/progress", progressOf: { $0 }, timeout: timeout, events: "rollout=\(seg(id))")
            }
        }
    }
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the batches, the skipped hosts and the budget a rollout would have; create nothing.",
            discussion: "fleetctl rolling plan --type reboot --tags web --batch-size 10% --canary 1 --soak 300 --max-failures 2")
        @OptionGroup var global: Global
        @OptionGroup var operation: OperationFlags
        @OptionGroup var rollout: RolloutFlags
        func run() async throws {
            try await FleetctlMain.run {
                var b = try operation.builder()
                rollout.apply(&b)
                b.set("dry_run", true)
                let plan = try await global.client.call(.POST, "/rolling", b.json)
                if global.printsJSON { print(Rendering.json(plan)) } else { print(Rendering.plan(plan)) }
            }
        }
    }
    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        @OptionGroup var page: PageFlags
        @Option(help: "Only rollouts with this status.") var status: RolloutStatus?
        func run() async throws {
            try await global.request(
                .GET, page.path("/rolling", status: status?.rawValue), list: "deployments",
                columns: ["id", "operation_type", "status", "current_batch", "total_batches", "failure_budget", "created_at"])
        }
    }
    struct Get: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/rolling/\(seg(id))") }
    }
    struct Progress: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/rolling/\(seg(id))/progress") }
    }
    struct Pause: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.POST, "/rolling/\(seg(id))/pause") }
    }
    struct Resume: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.POST, "/rolling/\(seg(id))/resume") }
    }
    struct Cancel: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.POST, "/rolling/\(seg(id))/cancel") }
    }
    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a rollout awaiting approval go on.")
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.POST, "/rolling/\(seg(id))/promote") }
    }
    struct Rerun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A new rollout, same policy, over the hosts that failed (or were skipped).")
        @OptionGroup var global: Global
        @Argument var id: String
        @OptionGroup var which: RerunFlags
        func run() async throws { try await global.request(.POST, "/rolling/\(seg(id))/rerun", which.body()) }
    }
    struct Halt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Halt a rollout as its failure budget would, recording why.")
        @OptionGroup var global: Global
        @Argument var id: String
        @Option(help: "Why: what an operator reads later.") var reason: String
        func run() async throws { try await global.request(.POST, "/rolling/\(seg(id))/halt", ["reason": .string(reason)]) }
    }
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A live progress bar (batches, counts, ETA) until it ends; exit 2 unless it succeeded.")
        @OptionGroup var global: Global
        @Argument var id: String
        @Option var timeout = 3600
        func run() async throws {
            try await FleetctlMain.run {
                try await watch(global.client, path: "/rolling/\(seg(id))/progress", progressOf: { $0 }, timeout: timeout, events: "rollout=\(seg(id))")
            }
        }
    }
}

struct Schedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cron schedules.",
        subcommands: [Create.self, List.self, Get.self, Update.self, Delete.self, RunNow.self, Runs.self])
    static let columns = ["id", "name", "cron", "timezone", "enabled", "next_run", "last_run", "last_status"]

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a schedule (it never fires on creation).",
            discussion:
                "fleetctl schedules create --name nightly --cron '0 3 * * *' --timezone Europe/Berlin --type run_script --tags web --param content='apt-get update'"
        )
        @OptionGroup var global: Global
        @OptionGroup var operation: OperationFlags
        @Option var name: String?
        @Option var cron: String?
        @Option var timezone: String?
        @Flag(help: "Create it disabled.") var disabled = false
        @Option(help: "What a fire missed while the scheduler was away does.") var misfirePolicy: ScheduleRequest.MisfirePolicy?
        @Option(help: "Whether a run may start while the last one runs.") var overlapPolicy: ScheduleRequest.OverlapPolicy?
        @OptionGroup var rollout: RolloutFlags
        @Option(help: "Fire only inside this maintenance window (fleetctl windows).") var window: String?
        func run() async throws {
            try await FleetctlMain.run {
                var b = try operation.builder()
                b.set("name", name.map { .string($0) })
                b.set("window", window.map { .string($0) })
                b.set("cron", cron.map { .string($0) })
                b.set("timezone", timezone.map { .string($0) })
                if disabled { b.set("enabled", false) }
                b.set("misfire_policy", misfirePolicy.map { .string($0.rawValue) })
                b.set("overlap_policy", overlapPolicy.map { .string($0.rawValue) })
                if rollout.isSet {
                    var r = RequestBuilder.empty
                    rollout.apply(&r)
                    b.set("rolling", r.json)
                }
                global.show(try await global.client.call(.POST, "/schedules", b.json))
            }
        }
    }
    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        @OptionGroup var page: PageFlags
        @Option(help: "Only enabled or only disabled schedules.") var status: ScheduleState?
        func run() async throws {
            try await global.request(.GET, page.path("/schedules", status: status?.rawValue), list: "schedules", columns: Schedules.columns)
        }
    }
    struct Get: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/schedules/\(seg(id))") }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace the definition with --body (JSON or @file).")
        @OptionGroup var global: Global
        @Argument var id: String
        @Option var body: String
        func run() async throws {
            try await global.request(.PUT, "/schedules/\(seg(id))", try RequestBuilder(body: body).json)
        }
    }
    struct Delete: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.DELETE, "/schedules/\(seg(id))") }
    }
    struct RunNow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Run now (obeys the overlap policy).")
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.POST, "/schedules/\(seg(id))/run") }
    }
    struct Runs: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        @OptionGroup var page: PageFlags
        @Option(help: "Only runs with this status.") var status: ScheduleRunStatus?
        func run() async throws {
            try await global.request(
                .GET, page.path("/schedules/\(seg(id))/runs", status: status?.rawValue), list: "runs",
                columns: ["fire_at", "trigger", "kind", "operation_id", "status", "reason"])
        }
    }
}
