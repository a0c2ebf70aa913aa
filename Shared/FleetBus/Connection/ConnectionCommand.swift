/// Work that async callers hand to a connection's thread.
enum ConnectionCommand: Sendable {
    case publish([OutgoingMessage], CheckedContinuation<[Result<Void, AMQPError>], Never>)
    case declare(Topology, CheckedContinuation<Result<Void, AMQPError>, Never>)
    case consume(ConsumerSpec, CheckedContinuation<Result<Void, AMQPError>, Never>)
    case cancelConsumer(tag: String)
    case settle(Settlement, tag: UInt64, generation: UInt64)
    case close(CheckedContinuation<Void, Never>)

    /// Answers a command the closed connection will never run, so no caller waits forever.
    func answerClosed() {
        switch self {
        case .publish(let m, let w): w.resume(returning: m.map { _ in .failure(AMQPError(.closed, "connection closed")) })
        case .declare(_, let w), .consume(_, let w): w.resume(returning: .failure(AMQPError(.closed, "connection closed")))
        case .close(let w): w.resume()
        case .cancelConsumer, .settle: break
        }
    }
}

struct ConsumerSpec: Sendable {
    let queue: String
    let tag: String
    let prefetch: UInt16
    let noAck: Bool
    let sink: AsyncStream<Delivery>.Continuation
}

/// The results of one publish call, filled in as confirms arrive. Confined to the connection's thread.
final class PublishBatch {
    private var results: [Result<Void, AMQPError>?]
    private var remaining: Int
    private let waiter: CheckedContinuation<[Result<Void, AMQPError>], Never>

    init(count: Int, waiter: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.waiter = waiter
        if count == 0 { waiter.resume(returning: []) }
    }

    func complete(_ index: Int, _ result: Result<Void, AMQPError>) {
        guard results[index] == nil else { return }
        results[index] = result
        remaining -= 1
        if remaining == 0 { waiter.resume(returning: results.map { $0! }) }
    }
}

extension Result where Success == Void, Failure == AMQPError {
    static var ok: Self { .success(()) }
}
