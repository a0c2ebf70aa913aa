import ArgumentParser
import FleetCore
import FleetctlKit

struct Budgets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fleet-wide concurrency budgets: at most N hosts of an operation type in flight, across all operations.",
        subcommands: [List.self, Set.self, Delete.self])
    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        func run() async throws {
            try await global.request(.GET, "/budgets", list: "budgets", columns: ["operation_type", "max_in_flight", "in_flight"])
        }
    }
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a type's ceiling (admin).", discussion: "fleetctl budgets set reboot 50")
        @OptionGroup var global: Global
        @Argument var type: OperationType
        @Argument(help: "Hosts in flight at most, fleet-wide.") var maxInFlight: Int
        func run() async throws {
            try await global.request(.PUT, "/budgets/\(seg(type.rawValue))", ["max_in_flight": .int(Int64(maxInFlight))])
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a type's ceiling (admin).")
        @OptionGroup var global: Global
        @Argument var type: OperationType
        func run() async throws { try await global.request(.DELETE, "/budgets/\(seg(type.rawValue))") }
    }
}

struct Windows: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Maintenance windows: when rollouts and schedules that name one may act.",
        subcommands: [List.self, Get.self, Set.self, Delete.self])
    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        func run() async throws {
            try await global.request(.GET, "/windows", list: "windows", columns: ["name", "cron", "timezone", "duration_minutes", "open", "next_opening"])
        }
    }
    struct Get: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var name: String
        func run() async throws { try await global.request(.GET, "/windows/\(seg(name))") }
    }
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a window (admin).",
            discussion: "fleetctl windows set nightly --cron '0 2 * * *' --minutes 120 --timezone Europe/Berlin")
        @OptionGroup var global: Global
        @Argument var name: String
        @Option(help: "When it opens (5 cron fields, or @daily ...).") var cron: String
        @Option(help: "How long it stays open.") var minutes: Int
        @Option(help: "The IANA time zone of the cron (default UTC).") var timezone: String?
        func run() async throws {
            var body: [String: JSONValue] = ["cron": .string(cron), "duration_minutes": .int(Int64(minutes))]
            if let timezone { body["timezone"] = .string(timezone) }
            try await global.request(.PUT, "/windows/\(seg(name))", .object(body))
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a window (admin).")
        @OptionGroup var global: Global
        @Argument var name: String
        func run() async throws { try await global.request(.DELETE, "/windows/\(seg(name))") }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit trail (admin): who asked for what, on which record, and how it ended; newest first.",
        discussion: "fleetctl audit --action bulk. --since 2026-12-01T00:00:00Z")
    @OptionGroup var global: Global
    @Option(help: "A token's id or name, or a broker user.") var actor: String?
    @Option(help: "A route (bulk.create), or a prefix ending in a dot (rolling.).") var action: String?
    @Option(help: "The record acted on (an id or a name).") var target: String?
    @Option(help: "Only entries at or after this ISO-8601 instant.") var since: String?
    @OptionGroup var page: PageFlags
    func run() async throws {
        var q: [String] = []
        for (key, value) in [("actor", actor), ("action", action), ("target", target), ("since", since)] {
            if let value { q.append("\(key)=\(seg(value))") }
        }
        let paged = page.path("/audit")
        let path = q.isEmpty ? paged : paged + (paged.contains("?") ? "&" : "?") + q.joined(separator: "&")
        try await global.request(.GET, path, list: "entries", columns: ["at", "actor", "action", "target", "outcome"])
    }
}
