/// Which arguments of a command are keys: what Redis Cluster routes a command by, and what must
/// share one hash slot. Covers the commands FleetStore's users send; any other command with
/// arguments is taken to have its key first, as most do.
extension RedisCommand {
    public enum Routing: Sendable, Equatable {
        /// To the node serving the slot of these keys (all in one slot, or Redis answers CROSSSLOT).
        case keys([Int])
        /// To any node: it touches no key.
        case anyNode
        /// To every primary: it acts on each node's part of the keyspace (FLUSHDB, KEYS, SCRIPT).
        case everyPrimary
    }

    public var name: String { arguments.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "" }

    public var routing: Routing {
        let n = arguments.count
        switch name {
        case "FLUSHDB", "FLUSHALL", "SCRIPT", "KEYS":
            return .everyPrimary
        case "PING", "ECHO", "INFO", "CLUSTER", "ACL", "TIME", "CONFIG", "AUTH", "SELECT", "MULTI", "EXEC", "DISCARD", "ASKING",
            "READONLY", "COMMAND", "CLIENT", "HELLO", "SCAN", "DBSIZE", "WAIT":
            return .anyNode
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard n > 2, let count = Int(String(decoding: arguments[2], as: UTF8.self)), count > 0 else { return .anyNode }
            return .keys(Array(3..<min(n, 3 + count)))
        case "DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "WATCH", "SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE",
            "SDIFFSTORE", "PFCOUNT", "PFMERGE", "RENAME", "RENAMENX", "RPOPLPUSH", "LMOVE", "SMOVE":
            return n > 1 ? .keys(Array(1..<n)) : .anyNode
        case "MSET", "MSETNX":
            return .keys(Array(stride(from: 1, to: n, by: 2)))
        case "XINFO", "OBJECT", "MEMORY":
            return n > 2 ? .keys([2]) : .anyNode
        case "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE":
            guard n > 2, let count = Int(String(decoding: arguments[2], as: UTF8.self)) else { return .keys([1]) }
            return .keys([1] + Array(3..<min(n, 3 + count)))
        default:
            return n > 1 ? .keys([1]) : .anyNode
        }
    }

    /// The hash slot of its first key, which is where a cluster client sends it (when its other
    /// keys are in other slots, that node refuses it with CROSSSLOT, as Redis defines); nil when it
    /// has no key.
    public var slot: Int? { slot(routing) }

    /// The same, from a routing already worked out (the cluster client's path computes it once).
    func slot(_ routing: Routing) -> Int? {
        guard case .keys(let positions) = routing, let first = positions.first else { return nil }
        return RedisSlot.of(arguments[first])
    }
}
