import FleetCore
import FleetTestSupport
import Foundation
import Hummingbird
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A small HTTP server on 127.0.0.1 playing a rollout's gates: `/ok` answers 200, `/fail` 503,
/// `/slow` answers 200 after 5 s, `/redirect` a 302 to `/ok`; and webhook receivers: POST `/hook`
/// answers 200, `/hook-flaky` 503 twice then 200, `/hook-down` always 503. It records every
/// request's path, body and whether it carried an Authorization header or a cookie (neither a gate
/// nor a webhook ever sends the caller's token).
final class GateServer: Sendable {
    struct Hit: Sendable, Equatable {
        let path: String
        let carriedCredentials: Bool
        var body: JSONValue? = nil
    }

    /// The requests seen; a class of its own so the route closures can share it.
    final class HitLog: Sendable {
        let hits = Mutex<[Hit]>([])
    }

    let port: Int
    private let log = HitLog()
    private let task = Mutex<Task<Void, Never>?>(nil)

    var base: String { "http://127.0.0.1:\(port)" }
    func received() -> [Hit] { log.hits.withLock { $0 } }

    init() async throws {
        port = TestEnvironment.freePort()
        let router = Router()
        let log = self.log
        let record: @Sendable (Request) -> Void = { request in
            let credentials = request.headers[.authorization] != nil || request.headers[.cookie] != nil
            log.hits.withLock { $0.append(Hit(path: request.uri.path, carriedCredentials: credentials)) }
        }
        router.get("ok") { request, _ -> HTTPResponse.Status in
            record(request)
            return .ok
        }
        router.get("fail") { request, _ -> HTTPResponse.Status in
            record(request)
            return .serviceUnavailable
        }
        router.get("redirect") { request, _ -> Response in
            record(request)
            return Response(status: .found, headers: [.location: "/ok"])
        }
        router.get("slow") { request, _ -> HTTPResponse.Status in
            record(request)
            try await Task.sleep(for: .seconds(5))
            return .ok
        }
        let flaky = Mutex(0)
        for (path, answer) in [("hook", 0), ("hook-flaky", 2), ("hook-down", Int.max)] {
            router.post(RouterPath(stringLiteral: path)) { request, _ -> HTTPResponse.Status in
                var r = request
                let bytes = try await r.collectBody(upTo: 1 << 20)
                let credentials = request.headers[.authorization] != nil || request.headers[.cookie] != nil
                let body = JSONCoding.decode(Array(bytes.readableBytesView))
                log.hits.withLock { $0.append(Hit(path: request.uri.path, carriedCredentials: credentials, body: body)) }
                if answer == 0 { return .ok }
                if answer == Int.max { return .serviceUnavailable }
                let failedSoFar = flaky.withLock { n in
                    defer { n += 1 }
                    return n
                }
                return failedSoFar < answer ? .serviceUnavailable : .ok
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        task.withLock { $0 = Task { try? await app.runService(gracefulShutdownSignals: []) } }
        let url = URL(string: "http://127.0.0.1:\(port)/ready")!
        let up = await TestEnvironment.eventually(timeout: .seconds(10)) { (try? await URLSession.shared.data(from: url)) != nil }
        guard up else { throw StackScriptError(action: "the gate server did not come up", status: -1) }
    }

    func stop() { task.withLock { $0?.cancel() } }
}
