import FleetCore
import Foundation

/// A message of the bus contract (docs/bus.md): a Codable type with a name and a version.
///
/// Publishers stamp both on the AMQP properties (`type` and the `x-fleet-version` header); a
/// consumer refuses a message whose name or version it does not speak, instead of misreading it.
/// Each type's wire form is pinned by a golden JSON fixture in Tests/FleetContractsTests.
public protocol FleetMessage: Codable, Sendable, Hashable {
    /// The name in the `type` property, e.g. `agent.command`.
    static var messageName: String { get }
    /// The version in the `x-fleet-version` header.
    static var messageVersion: Int { get }
}

extension FleetMessage {
    public static var messageVersion: Int { 1 }

    /// The JSON body, keys sorted (so fixtures and logs compare byte for byte): what JSONEncoder
    /// with sorted keys wrote, made by FleetCore's walk and writer (one pass each, where a fresh
    /// JSONEncoder per message was 6 % of the dispatcher's time in a bulk run). The golden fixtures
    /// hold every message type to its bytes.
    public var encoded: [UInt8] {
        // Encoding these plain structs (strings, numbers, JSONValue) cannot fail.
        (try? JSONValueEncoder.encode(self)).map(JSONCoding.encode) ?? []
    }

    /// Decodes a body; what does not fit the type is a ValidationError naming the field.
    public static func decode(_ bytes: [UInt8]) throws(ValidationError) -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ValidationError(decoding: error)
        } catch {
            throw ValidationError("body", .invalidValue, "the body is not a \(messageName) message")
        }
    }
}

extension ValidationError {
    /// The field a DecodingError is about (`host_ids[2]`, say), and what was wrong with it.
    init(decoding error: DecodingError) {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (last.map { [$0] } ?? [])
            guard !keys.isEmpty else { return "body" }
            return keys.enumerated().map { i, key in
                key.intValue.map { "[\($0)]" } ?? (i == 0 ? key.stringValue : ".\(key.stringValue)")
            }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(path(context.codingPath, key), .required, "\(key.stringValue) is required")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            self.init(path(context.codingPath), .invalidType, "\(path(context.codingPath)) has the wrong type")
        case .dataCorrupted(let context):
            self.init(
                path(context.codingPath), .invalidValue,
                context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context.codingPath)) is not a valid value")
        @unknown default:
            self.init("body", .invalidValue, "the body does not fit the contract")
        }
    }
}
