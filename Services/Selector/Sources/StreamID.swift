/// A Redis stream entry id (`<milliseconds>-<sequence>`), ordered as Redis orders them.
struct StreamID: Comparable, Sendable, CustomStringConvertible {
    let ms: UInt64
    let seq: UInt64

    static let zero = StreamID(ms: 0, seq: 0)

    init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        self.init(ms: ms, seq: seq)
    }

    var description: String { "\(ms)-\(seq)" }

    static func < (a: StreamID, b: StreamID) -> Bool { (a.ms, a.seq) < (b.ms, b.seq) }
}
