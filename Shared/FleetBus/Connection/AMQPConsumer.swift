/// The deliveries of one consumer, in order. Ends when the consumer is cancelled or the connection closed.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = Delivery
    private let stream: AsyncStream<Delivery>
    public let tag: String
    private let connection: AMQPConnection

    init(stream: AsyncStream<Delivery>, tag: String, connection: AMQPConnection) {
        self.stream = stream
        self.tag = tag
        self.connection = connection
    }

    public func makeAsyncIterator() -> AsyncStream<Delivery>.Iterator { stream.makeAsyncIterator() }

    /// Stops the consumer; unsettled deliveries go back to the queue when the channel closes them.
    public func cancel() { connection.submit(.cancelConsumer(tag: tag)) }
}
