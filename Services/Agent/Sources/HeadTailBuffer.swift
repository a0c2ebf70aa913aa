/// The first and the last `keep` bytes of a stream, kept as it is read: however much a command
/// prints, the agent holds at most 2 × `keep` of it.
struct HeadTailBuffer: Sendable {
    static let marker = Array("\n[... truncated ...]\n".utf8)
    let keep: Int
    private(set) var head: [UInt8] = []
    /// A ring of the last `keep` bytes past the head; `next` is where the oldest byte sits once it is full.
    private var ring: [UInt8] = []
    private var next = 0
    private(set) var total = 0

    init(keep: Int) {
        self.keep = keep
        head.reserveCapacity(min(keep, 4096))
    }

    var truncated: Bool { total > 2 * keep }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        total += bytes.count
        if head.count < keep {
            let n = min(keep - head.count, rest.count)
            head.append(contentsOf: rest.prefix(n))
            rest = rest.dropFirst(n)
        }
        if rest.count >= keep {
            ring = Array(rest.suffix(keep))
            next = 0
            return
        }
        for b in rest {
            if ring.count < keep {
                ring.append(b)
            } else {
                ring[next] = b
                next = (next + 1) % keep
            }
        }
    }

    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// Head, then (when bytes were dropped between them) the marker, then the tail, in order.
    var bytes: [UInt8] {
        let tail = Array(ring[next...] + ring[..<next])
        return truncated ? head + Self.marker + tail : head + tail
    }
}
