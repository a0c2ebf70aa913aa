/// Every failure FleetStore reports. Retry logic reads `isRetriable`, never the message.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case invalidURL
        /// Could not connect, authenticate or select the database.
        case connectionFailed
        /// The connection broke with commands in flight: whether they ran is unknown.
        case connectionLost
        /// Redis answered with an error reply (wrong type, script error, ...).
        case reply
        /// The client was closed.
        case closed
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var isRetriable: Bool {
        switch kind {
        case .connectionFailed, .connectionLost: return true
        case .invalidURL, .reply, .closed: return false
        }
    }

    public var description: String { "RedisError.\(kind): \(message)" }
}
