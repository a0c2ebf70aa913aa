import Crypto
import FleetContracts
import FleetCore
import FleetStore
import Foundation

/// An operation's request as the engine dispatches it, and where its parameters travel.
struct DispatchableRequest: Sendable {
    let request: BulkOperationRequest
    /// Set when the parameters are stored once (`fleet:bulk:{op}:parameters`) instead of in
    /// every host's command.
    let parametersRef: ParametersRef?

    /// Parameters up to this size travel in each command; larger ones are stored once and
    /// fetched by each agent in chunks.
    static let inlineLimit = 64 << 10

    /// The parameters' bytes, and their reference when they are too large to inline.
    static func reference(_ parameters: JSONValue) -> ([UInt8], ParametersRef?) {
        let bytes = JSONCoding.encode(parameters)
        guard bytes.count > inlineLimit else { return (bytes, nil) }
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        return (bytes, ParametersRef(sha256: digest, size: bytes.count))
    }

    /// The parameters as an operation's record shows them: whole when inline; stored by
    /// reference, without the values over 4 KiB (a file's content), which `parameters_ref` names.
    static func shown(_ parameters: JSONValue, _ ref: ParametersRef?) -> JSONValue {
        guard ref != nil, case .object(let o) = parameters else { return parameters }
        return .object(o.filter { if case .string(let s) = $0.value { s.utf8.count <= 4096 } else { true } })
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

    /// The operation's request, from the cache or from its record; nil when it has none (expired).
    func request(_ op: String) async throws -> DispatchableRequest? {
        if let known = cache[op] { return known }
        guard let text = try await redis.send("HGET", RedisKeys.bulkOperation(op), "request").string,
            let json = JSONCoding.decode(Array(text.utf8)), let request = try? BulkOperationRequest(json: json)
        else { return nil }
        let ref = DispatchableRequest.reference(request.parameters.json).1
        let parsed = DispatchableRequest(request: request, parametersRef: ref)
        remember(op, parsed)
        return parsed
    }
}
