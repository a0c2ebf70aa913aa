import Crypto
import FleetContracts
import FleetCore
import FleetStore
import Foundation

/// What the engine needs to send an operation's hosts their commands, and nothing more: the
/// parameters inline (built once, not once per host), or only their reference when they are
/// stored once, so a cached 10 MiB `deploy_file` holds no copy of the file.
struct DispatchableRequest: Sendable {
    let operationType: OperationType
    let timeoutSeconds: Int
    let deliveryTimeoutSeconds: Int
    let concurrency: BatchSize?
    /// False for an operation created with `"dispatch": false`: `bulk.dispatch` sends its hosts.
    let dispatchesItself: Bool
    /// The parameters as every command carries them: inline, or `{}` beside `parametersRef`.
    let commandParameters: JSONValue
    /// Set when the parameters are stored once (`fleet:bulk:{op}:parameters`) instead of in
    /// every host's command.
    let parametersRef: ParametersRef?
    /// Takes host locks (`exclusive`), and waits for or skips a host another operation holds.
    var exclusive = true
    var onConflict = LockConflict.wait
    /// The completion webhook, POSTed when the operation finishes.
    var notify: Notify?

    /// Parameters up to this size travel in each command; larger ones are stored once and
    /// fetched by each agent in chunks.
    static let inlineLimit = 64 << 10

    /// A validated request, prepared once: what to dispatch, the bytes to store when the
    /// parameters go by reference, and the parameters as the operation's record shows them
    /// (whole when inline; by reference without the values over 4 KiB, which `parameters_ref` names).
    static func prepare(_ request: BulkOperationRequest) -> (DispatchableRequest, stored: [UInt8]?, shown: JSONValue) {
        let parameters = request.parameters.json
        let bytes = JSONCoding.encode(parameters)
        var ref: ParametersRef?
        var shown = parameters
        if bytes.count > inlineLimit {
            ref = ParametersRef(sha256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(), size: bytes.count)
            if case .object(let o) = parameters {
                shown = .object(o.filter { if case .string(let s) = $0.value { s.utf8.count <= 4096 } else { true } })
            }
        }
        let dispatchable = DispatchableRequest(
            operationType: request.type, timeoutSeconds: request.parameters.timeoutSeconds,
            deliveryTimeoutSeconds: request.deliveryTimeoutSeconds, concurrency: request.concurrency, dispatchesItself: request.dispatch,
            commandParameters: ref == nil ? parameters : [:], parametersRef: ref, exclusive: request.exclusive,
            onConflict: request.onConflict, notify: request.notify)
        return (dispatchable, ref == nil ? nil : bytes, shown)
    }
}

/// The requests of the operations this process dispatches, parsed once: a 10 MiB `deploy_file`
/// is not parsed again for every slot its concurrency window frees.
actor OperationRequests {
    private let redis: RedisClient
    private var cache: [String: DispatchableRequest] = [:]
    private var order: [String] = []
    static let capacity = 16

    init(redis: RedisClient) { self.redis = redis }

    func remember(_ op: String, _ request: DispatchableRequest) {
        if cache[op] == nil {
            order.append(op)
            if order.count > Self.capacity { cache[order.removeFirst()] = nil }
        }
        cache[op] = request
    }

    /// The operation's type, for freeing its hosts' budget slots on every host's end: from the
    /// cache, or one field of its record (never the whole request, which may hold 10 MiB of file).
    func type(_ op: String) async throws -> OperationType? {
        if let known = cache[op] { return known.operationType }
        return try await redis.send("HGET", RedisKeys.bulkOperation(op), "operation_type").string.flatMap(OperationType.init(rawValue:))
    }

    /// The operation's request, from the cache or from its record; nil when it has none (expired).
    func request(_ op: String) async throws -> DispatchableRequest? {
        if let known = cache[op] { return known }
        guard let text = try await redis.send("HGET", RedisKeys.bulkOperation(op), "request").string,
            let json = JSONCoding.decode(Array(text.utf8)), let request = try? BulkOperationRequest(json: json)
        else { return nil }
        let parsed = DispatchableRequest.prepare(request).0
        remember(op, parsed)
        return parsed
    }
}
