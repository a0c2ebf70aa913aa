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
