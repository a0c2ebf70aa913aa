/// A request that is well-formed but clashes with the current state (answered 409), or names
/// something that does not exist (404).
public struct ConflictError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case conflict, notFound }
    public let kind: Kind
    /// A stable machine-readable code such as `group_cycle`.
    public let code: String
    public let message: String

    public init(_ kind: Kind = .conflict, code: String, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
