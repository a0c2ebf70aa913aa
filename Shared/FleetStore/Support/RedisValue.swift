/// A Redis reply.
public indirect enum RedisValue: Sendable, Equatable, Hashable {
    case bulk([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    /// An error reply inside a pipeline or a script result; single commands throw it instead.
    case error(String)

    public var string: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk, .status: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    public var array: [RedisValue]? { if case .array(let a) = self { a } else { nil } }
    public var isNull: Bool { self == .null }

    /// A flat `[field, value, field, value]` reply (HGETALL) as a dictionary.
    public var dictionary: [String: RedisValue]? {
        guard let a = array, a.count % 2 == 0 else { return nil }
        var out: [String: RedisValue] = [:]
        for i in stride(from: 0, to: a.count, by: 2) { out[a[i].string ?? ""] = a[i + 1] }
        return out
    }
}

/// One command, binary-safe: each argument is sent as is, never interpolated into a string.
public struct RedisCommand: Sendable, Equatable {
    public var arguments: [[UInt8]]

    public init(bytes arguments: [[UInt8]]) { self.arguments = arguments }
    public init(_ arguments: [String]) { self.arguments = arguments.map { Array($0.utf8) } }
    public init(_ name: String, _ arguments: String...) { self.init([name] + arguments) }
}

/// A Lua script run with EVALSHA; its SHA is learnt from SCRIPT LOAD and cached by the client.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    public init(_ source: String) { self.source = source }
}
