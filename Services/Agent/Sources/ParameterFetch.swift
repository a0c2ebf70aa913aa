import Crypto
import FleetContracts
import FleetCore
import FleetMessaging
import Foundation

/// A command's parameters: inline, or (too large for every host's command) fetched from the
/// dispatcher in chunks of at most 1 MiB and checked against the SHA-256 the command names, so
/// a truncated or altered copy is never run.
struct ParameterFetch: Sendable {
    let bus: BusClient

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func parameters(of command: AgentCommand) async throws -> JSONValue {
        guard let ref = command.parametersRef else { return command.parameters }
        guard ref.size > 0, ref.size <= 64 << 20 else { throw Failure(description: "parameters_ref size \(ref.size) is out of range") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ref.size)
        while bytes.count < ref.size {
            let request = ParametersChunkRequest(
                opID: command.opID, hostID: command.hostID, offset: bytes.count, length: min(ParametersChunkRequest.maxLength, ref.size - bytes.count))
            let chunk: ParametersChunk
            switch await bus.call(Route.bulkParameters, request, replying: ParametersChunk.self) {
            case .success(let c): chunk = c
            case .failure(let f): throw Failure(description: "parameters not fetched: \(f.reply.status) \(f.reply.error?.message ?? "")")
            }
            guard chunk.offset == bytes.count, chunk.size == ref.size, let data = Data(base64Encoded: chunk.data), !data.isEmpty else {
                throw Failure(description: "the dispatcher answered a chunk that does not fit the reference")
            }
            bytes += data
        }
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        guard bytes.count == ref.size, digest == ref.sha256 else { throw Failure(description: "parameters do not match their SHA-256") }
        guard let json = JSONCoding.decode(bytes) else { throw Failure(description: "parameters are not JSON") }
        return json
    }
}
