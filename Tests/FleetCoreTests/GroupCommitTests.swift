import FleetCore
import Synchronization
import Testing

/// The results consumer's and the claims' batching: every caller gets its own reply, callers that
/// come while a batch is written go together in the next, and a caller alone is not held back.
@Suite("group commit")
struct GroupCommitTests {
    @Test func concurrentCallersShareBatchesAndEachGetsItsReply() async throws {
        let sizes = Mutex<[Int]>([])
        let commit = GroupCommit<Int, Int>(maxBatch: 50) { items in
            sizes.withLock { $0.append(items.count) }
            try? await Task.sleep(for: .milliseconds(5))  // a write that takes a round trip
            return items.map { .success($0 * 2) }
        }
        let replies = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for i in 0..<400 { group.addTask { (i, try await commit.submit(i)) } }
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        #expect(replies.count == 400 && replies.allSatisfy { $0.value == $0.key * 2 })
        let batches = sizes.withLock { $0 }
        #expect(batches.reduce(0, +) == 400)
        #expect(batches.allSatisfy { $0 <= 50 }, "never more than maxBatch: \(batches)")
        #expect(batches.count < 100, "callers that came during a write shared the next one: \(batches.count) writes")
        // Alone, a caller is written at once (no timer to wait out).
        let alone = ContinuousClock.now
        #expect(try await commit.submit(7) == 14)
        #expect(ContinuousClock.now - alone < .seconds(1))
    }

    struct Refused: Error {}

    @Test func failuresReachOnlyTheirCallers() async throws {
        let commit = GroupCommit<Int, Int> { items in items.map { $0 % 2 == 0 ? .success($0) : .failure(Refused()) } }
        #expect(try await commit.submit(4) == 4)
        await #expect(throws: Refused.self) { try await commit.submit(3) }
        let short = GroupCommit<Int, Int> { _ in [] }
        await #expect(throws: GroupCommitError.self) { try await short.submit(1) }
    }
}
