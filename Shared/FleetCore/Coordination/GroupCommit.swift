/// Group commit: callers hand in one item each and wait for its reply; while one batch is being
/// written, the items that arrive meanwhile wait and go together in the next. There is no timer:
/// a caller alone is written at once, and under load each write carries everything that queued
/// during the one before (up to `maxBatch`). The results consumer writes agents' results this way,
/// one transition script per operation for many hosts instead of one per host.
public actor GroupCommit<Item: Sendable, Reply: Sendable> {
    /// Writes a batch; answers one result per item, in order.
    public typealias Write = @Sendable ([Item]) async -> [Result<Reply, any Error>]

    private var pending: [(item: Item, waiter: CheckedContinuation<Result<Reply, any Error>, Never>)] = []
    private var writing = false
    private let maxBatch: Int
    private let write: Write

    public init(maxBatch: Int = 500, _ write: @escaping Write) {
        self.maxBatch = maxBatch
        self.write = write
    }

    /// Queues `item` and waits until the batch that carries it is written.
    public func submit(_ item: Item) async throws -> Reply {
        let result = await withCheckedContinuation { (waiter: CheckedContinuation<Result<Reply, any Error>, Never>) in
            pending.append((item, waiter))
            if !writing {
                writing = true
                Task { await drain() }
            }
        }
        return try result.get()
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending.prefix(maxBatch)
            pending.removeFirst(batch.count)
            let results = await write(batch.map(\.item))
            for (i, entry) in batch.enumerated() {
                // A writer that answers too few fails the rest rather than leaving them waiting.
                entry.waiter.resume(returning: i < results.count ? results[i] : .failure(GroupCommitError.noReply))
            }
        }
        writing = false
    }
}

public enum GroupCommitError: Error, Sendable {
    /// The batch's writer gave no reply for this item.
    case noReply
}
