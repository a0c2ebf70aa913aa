import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore

/// `budgets.*`: fleet-wide concurrency budgets per operation type, which `DispatchGate` holds
/// every dispatch to. The dispatcher owns them because it is the one that reads them.
struct BudgetHandlers: Sendable {
    let context: ServiceContext
    var gate: DispatchGate { DispatchGate(redis: context.redis, clock: context.clock) }

    var routes: [String: CommandHandler] {
        [
            Route.budgetsSet: { r in await answer(context.logger) { try await set(ConcurrencyBudget(json: r.body)).json } },
            Route.budgetsDelete: { r in await answer(context.logger) { try await remove(r.body).json } },
            Route.budgetsList: { _ in await answer(context.logger) { try await list().json } },
        ]
    }

    func set(_ budget: ConcurrencyBudget) async throws -> Budget {
        _ = try await context.redis.send("HSET", RedisKeys.budgets, budget.operationType.rawValue, String(budget.maxInFlight))
        // A raised budget has room for hosts that wait: they are tried again now.
        try await gate.wakeBudgetWaiters(budget.operationType)
        return try await read(budget.operationType)
    }

    func remove(_ body: JSONValue) async throws -> Budget {
        guard let text = body["operation_type"]?.stringValue, let type = OperationType(rawValue: text) else {
            let all = OperationType.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("operation_type", .invalidValue, "operation_type must be one of \(all)")
        }
        _ = try await context.redis.send("HDEL", RedisKeys.budgets, type.rawValue)
        try await gate.wakeBudgetWaiters(type)
        return try await read(type)
    }

    func list() async throws -> BudgetList {
        var budgets: [Budget] = []
        for type in OperationType.allCases { budgets.append(try await read(type)) }
        return BudgetList(budgets: budgets)
    }

    /// The type's ceiling and its live hosts in flight (leases past their end not counted).
    private func read(_ type: OperationType) async throws -> Budget {
        let replies = try await context.redis.pipelineChecked([
            RedisCommand(["HGET", RedisKeys.budgets, type.rawValue]),
            RedisCommand(["ZCOUNT", RedisKeys.inFlight(type.rawValue), "(" + String(context.clock.nowMs), "+inf"]),
        ])
        return Budget(operationType: type.rawValue, maxInFlight: replies[0].string.flatMap { Int($0) }, inFlight: Int(replies[1].int ?? 0))
    }
}
