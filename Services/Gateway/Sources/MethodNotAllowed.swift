import Hummingbird

/// The methods each route template answers, read from the router once its routes are added, so a
/// request whose path exists but whose method does not gets a 405 with `Allow` (RFC 9110 15.5.6), not a 404.
struct RouteTable: Sendable {
    private let routes: [(segments: [Substring], methods: [String])]

    init(_ routes: [Router<Gateway.Context>.RouteDescription]) {
        var byPath: [String: Set<String>] = [:]
        for r in routes { byPath[r.path.description, default: []].insert(r.method.rawValue) }
        self.routes = byPath.map { (path, methods) in (path.split(separator: "/"), methods.sorted()) }
    }

    /// The methods of the template `path` matches (a capture, which the router describes as `{name}`,
    /// matches any one segment); empty when none does.
    func allowed(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        var allowed: Set<String> = []
        for route in routes where route.segments.count == segments.count {
            if zip(route.segments, segments).allSatisfy({ t, s in t.hasPrefix("{") || t == s }) { allowed.formUnion(route.methods) }
        }
        return allowed.sorted()
    }
}

/// Added after every route, so it wraps only the router's not-found answer: a known path with an
/// unknown method becomes a 405 listing the methods it has.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = table.allowed(for: request.uri.path)
            guard !allowed.isEmpty else { throw error }
            var response = JSONResponse.error(
                405, "method_not_allowed", "\(request.method.rawValue) is not a method of this path; it has \(allowed.joined(separator: ", "))")
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        }
    }
}
