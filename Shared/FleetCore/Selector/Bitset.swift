/// A fixed-capacity set of small integers (host ordinals), for fast AND/OR of index lookups.
struct Bitset: Sendable, Equatable {
    private(set) var words: [UInt64]

    init(capacity: Int) {
        words = Array(repeating: 0, count: (capacity + 63) / 64)
    }

    /// Inserts `i`, growing the set when `i` is beyond its capacity.
    mutating func insert(_ i: Int) {
        if i >> 6 >= words.count { words += Array(repeating: 0, count: (i >> 6) - words.count + 1) }
        words[i >> 6] |= 1 << UInt64(i & 63)
    }

    mutating func remove(_ i: Int) {
        if i >> 6 < words.count { words[i >> 6] &= ~(1 << UInt64(i & 63)) }
    }

    func contains(_ i: Int) -> Bool {
        i >> 6 < words.count && words[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    mutating func formIntersection(_ other: Bitset) {
        for i in words.indices { words[i] &= i < other.words.count ? other.words[i] : 0 }
    }

    mutating func formUnion(_ other: Bitset) {
        for i in 0..<min(words.count, other.words.count) { words[i] |= other.words[i] }
    }

    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    func forEach(_ body: (Int) -> Void) {
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                body(w << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }
}
