import CHiredis

#if canImport(Glibc)
    import Glibc
#endif

/// One hiredis context. Confined to one pool thread: hiredis is not thread-safe, and a context
/// is useless after any error, so the owner discards it and connects again.
final class HiredisConnection {
    private var context: UnsafeMutablePointer<redisContext>?

    deinit { if let c = context { redisFree(c) } }

    var isOpen: Bool { context != nil }
    /// Whether it was ever open: opening again after that is a reconnect.
    private(set) var everOpened = false

    func open(_ config: RedisConfig) throws(RedisError) {
        close()
        guard let c = redisConnectWithTimeout(config.host, Int32(config.port), timeval(config.connectTimeout)) else {
            throw RedisError(.connectionFailed, "cannot allocate a redis context")
        }
        context = c
        everOpened = true
        if c.pointee.err != 0 {
            let message = Self.errorString(c)
            close()
            throw RedisError(.connectionFailed, "connect \(config.host):\(config.port): \(message)")
        }
        redisSetTimeout(c, timeval(config.commandTimeout))
        var setup: [RedisCommand] = []
        if let password = config.password {
            setup.append(RedisCommand(config.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]))
        }
        if config.database != 0 { setup.append(RedisCommand("SELECT", String(config.database))) }
        guard !setup.isEmpty else { return }
        do throws(RedisError) {
            for reply in try pipeline(setup) {
                if case .error(let e) = reply { throw RedisError(.connectionFailed, "auth/select: \(e)") }
            }
        } catch {
            close()
            throw RedisError(.connectionFailed, error.message)
        }
    }

    func close() {
        if let c = context { redisFree(c) }
        context = nil
    }

    /// Sends every command, then reads every reply: one round trip. Any I/O error kills the context.
    func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [RedisValue] {
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        for command in commands {
            let status = Self.append(c, command)
            if status != REDIS_OK { throw lost(c, "append") }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(c, &raw) == REDIS_OK, let reply = raw else { throw lost(c, "read") }
            replies.append(RedisValue(reply.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(reply)
        }
        return replies
    }

    private func lost(_ c: UnsafeMutablePointer<redisContext>, _ what: String) -> RedisError {
        let message = Self.errorString(c)
        close()
        return RedisError(.connectionLost, "\(what): \(message)")
    }

    private static func append(_ c: UnsafeMutablePointer<redisContext>, _ command: RedisCommand) -> Int32 {
        let args = command.arguments
        var lengths = args.map(\.count)
        // One contiguous copy of all arguments, pointed into: one allocation per command, not per argument.
        var flat: [UInt8] = []
        flat.reserveCapacity(lengths.reduce(0, +) + 1)
        for a in args { flat.append(contentsOf: a) }
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            var offset = 0
            var pointers: [UnsafePointer<CChar>?] = lengths.map { length in
                defer { offset += length }
                return (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return redisAppendCommandArgv(c, Int32(args.count), &pointers, &lengths)
        }
    }

    private static func errorString(_ c: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: c.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

extension RedisValue {
    /// Copies a hiredis reply (freed by the caller) into a Swift value.
    init(_ r: UnsafeMutablePointer<redisReply>) {
        let reply = r.pointee
        func text() -> [UInt8] {
            guard let s = reply.str, reply.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: reply.len))
        }
        switch reply.type {
        case REDIS_REPLY_STRING: self = .bulk(text())
        case REDIS_REPLY_STATUS: self = .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: self = .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: self = .integer(reply.integer)
        case REDIS_REPLY_ARRAY:
            self = .array((0..<reply.elements).map { RedisValue(reply.element[$0]!) })
        default: self = .null
        }
    }
}

extension timeval {
    init(_ d: Duration) {
        let (s, atto) = d.components
        self.init(tv_sec: Int(s), tv_usec: Int(atto / 1_000_000_000_000))
    }
}
