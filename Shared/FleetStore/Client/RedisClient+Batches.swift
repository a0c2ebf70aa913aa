/// Commands over many items, and pipelines whose error replies must not pass unseen.
extension RedisClient {
    /// Runs the commands in one round trip and throws the first error reply, for writes that must
    /// all land (a `MULTI`/`EXEC` pair's replies included).
    @discardableResult
    public func pipelineChecked(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisValue] {
        let replies = try await pipeline(commands)
        for reply in replies { if case .error(let e) = reply { throw RedisError(.reply, e) } }
        return replies
    }
}

extension RedisCommand {
    /// How many items one command carries, so no single command grows without bound.
    public static let chunkSize = 1000

    /// `head` followed by the arguments of at most `chunkSize` items per command
    /// (`RPUSH key` + ids, `ZADD key` + score/member pairs...).
    public static func chunked<Item>(_ head: [String], _ items: some Collection<Item>, arguments: (Item) -> [String]) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        var args = head
        var count = 0
        for item in items {
            args += arguments(item)
            count += 1
            if count == chunkSize {
                commands.append(RedisCommand(args))
                args = head
                count = 0
            }
        }
        if count > 0 { commands.append(RedisCommand(args)) }
        return commands
    }

    /// `head` followed by at most `chunkSize` of `items` per command.
    public static func chunked(_ head: [String], _ items: some Collection<String>) -> [RedisCommand] {
        chunked(head, items) { [$0] }
    }
}
