import FleetContracts
import FleetCore
import Hummingbird

/// Fleet-wide coordination over HTTP (`/api/v1/fleet/budgets`): concurrency budgets.
extension Gateway {
    func coordinationRoutes(_ router: Router<Context>) {
        route(router, .get, "budgets", .read, nil) { _, _ in await forward(Route.budgetsList, [:]) }
        route(router, .put, "budgets/:type", .admin, nil) { r, c in
            guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object with max_in_flight") }
            let type = try operationType(c)
            if let given = o["operation_type"], given != .null, given != type {
                return JSONResponse.from(.validation(ValidationError("operation_type", .invalidValue, "the body's operation_type differs from the path's")))
            }
            o["operation_type"] = type
            return await forward(Route.budgetsSet, .object(o))
        }
        route(router, .delete, "budgets/:type", .admin, nil) { _, c in
            await forward(Route.budgetsDelete, ["operation_type": try operationType(c)])
        }
    }

    private func operationType(_ context: Context) throws -> JSONValue {
        guard let raw = context.parameters.get("type"), let decoded = raw.removingPercentEncoding else {
            throw Refusal.badRequest("missing operation type")
        }
        return .string(decoded)
    }
}
