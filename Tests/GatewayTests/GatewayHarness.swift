import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import GatewayService
import Hummingbird
import HummingbirdTesting
import Synchronization

/// A gateway wired to the real services of the test stack, run in-process (no sockets), and
/// tokens of each scope.
struct GatewayHarness {
    let gateway: Gateway
    let tokens: [Scope: String]
    let stack: ServiceStack.Handle

    static func make(environment: [String: String] = [:]) async throws -> GatewayHarness {
        let stack = try await ServiceStack.shared.handle()
        let config = GatewayConfig(service: ServiceConfig(environment: environment))
        let store = TokenStore(redis: stack.redis)
        var tokens: [Scope: String] = [:]
        for scope in Scope.allCases { tokens[scope] = try await store.create(scope: scope, name: "test-\(scope.rawValue)") }
        // Enrollment through the management API `scripts/test.sh` names, for the test vhost.
        var managed = ProcessInfo.processInfo.environment
        managed["FLEET_AMQP_URL"] = TestEnvironment.serviceAMQPURL
        let enrollment = try AgentEnrollment(config: GatewayConfig(service: ServiceConfig(environment: managed)))
        let gateway = Gateway(config: config, bus: stack.bus, tokens: store, redis: stack.redis, broker: stack.connection, enrollment: enrollment)
        return GatewayHarness(gateway: gateway, tokens: tokens, stack: stack)
    }

    /// Runs `body` with a client for the in-process router.
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(router: gateway.router()).test(.router, body)
    }
}

struct HTTPAnswer: Sendable {
    let status: Int
    let json: JSONValue
    var headers: HTTPFields = [:]

    var hostIDs: [String] { json["host_ids"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    var errorCode: String? { json["error"]?.stringValue }
    var errorFields: [String] { json["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? [] }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ path: String, token: String?, json: JSONValue? = nil, raw: String? = nil) async throws -> HTTPAnswer {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let bytes = raw.map { Array($0.utf8) } ?? json.map(JSONCoding.encode)
        let answer = try await execute(uri: path, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) }) { response in
            HTTPAnswer(
                status: Int(response.status.code), json: JSONCoding.decode(Array(response.body.readableBytesView)) ?? .null, headers: response.headers)
        }
        ResponseRecorder.record(method: method.rawValue, path: path, answer: answer)
        return answer
    }
}

/// Appends every response the tests saw to `FLEET_RECORD_RESPONSES` (JSON lines), so that
/// scripts/check_openapi.py can validate real responses against docs/openapi.yaml.
enum ResponseRecorder {
    private static let lock = Mutex<Void>(())

    static func record(method: String, path: String, answer: HTTPAnswer) {
        guard let file = ProcessInfo.processInfo.environment["FLEET_RECORD_RESPONSES"] else { return }
        let line: JSONValue = ["method": .string(method), "path": .string(path), "status": .int(Int64(answer.status)), "body": answer.json]
        lock.withLock { _ in
            if !FileManager.default.fileExists(atPath: file) { FileManager.default.createFile(atPath: file, contents: nil) }
            guard let handle = FileHandle(forWritingAtPath: file) else { return }
            handle.seekToEndOfFile()
            handle.write(Data(JSONCoding.encode(line) + [10]))
            handle.closeFile()
        }
    }
}
