import FleetContracts
import FleetCore
import Hummingbird

/// Fleet-wide coordination over HTTP: concurrency budgets (`/budgets`, served by the dispatcher)
/// and maintenance windows (`/windows`, served by the scheduler).
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

    func windowRoutes(_ router: Router<Context>) {
        route(router, .get, "windows", .read, nil) { _, _ in await forward(Route.windowsList, [:]) }
        route(router, .post, "windows", .admin, nil) { r, _ in try await forward(Route.windowsPut, body(r)) }
        route(router, .get, "windows/:name", .read, nil) { _, c in try await forward(Route.windowsGet, ["name": name(c)]) }
        route(router, .put, "windows/:name", .admin, nil) { r, c in
            guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object") }
            let path = try name(c)
            if let given = o["name"], given != .null, given != path {
                return JSONResponse.from(.validation(ValidationError("name", .invalidValue, "the body's name differs from the path's")))
            }
            o["name"] = path
            return await forward(Route.windowsPut, .object(o))
        }
        route(router, .delete, "windows/:name", .admin, nil) { _, c in try await forward(Route.windowsDelete, ["name": name(c)]) }
    }

    private func name(_ context: Context) throws -> JSONValue {
        guard let raw = context.parameters.get("name"), let decoded = raw.removingPercentEncoding else { throw Refusal.badRequest("missing name") }
        return .string(decoded)
    }

    private func operationType(_ context: Context) throws -> JSONValue {
        guard let raw = context.parameters.get("type"), let decoded = raw.removingPercentEncoding else {
            throw Refusal.badRequest("missing operation type")
        }
        return .string(decoded)
    }
}
