/// The hosts that have one value of one indexed field. Sparse values (a rare tag) keep a hash set;
/// dense ones (platform Linux, approval approved) keep a bitset, which costs less memory and can
/// be intersected as it is. A posting changes form as it crosses the density thresholds.
enum Posting: Sendable {
    case sparse(Set<Int32>)
    case dense(Bitset, count: Int)

    /// Dense above one host in 64 (a bitset is then no larger than the set); sparse again below one in 256.
    static func denseThreshold(capacity: Int) -> Int { max(64, capacity / 64) }
    static func sparseThreshold(capacity: Int) -> Int { max(16, capacity / 256) }

    var count: Int {
        switch self {
        case .sparse(let s): s.count
        case .dense(_, let c): c
        }
    }

    mutating func insert(_ o: Int32, capacity: Int) {
        switch self {
        case .sparse(var s):
            s.insert(o)
            if s.count > Self.denseThreshold(capacity: capacity) {
                var b = Bitset(capacity: capacity)
                for x in s { b.insert(Int(x)) }
                self = .dense(b, count: s.count)
            } else {
                self = .sparse(s)
            }
        case .dense(var b, let c):
            let added = !b.contains(Int(o))
            b.insert(Int(o))
            self = .dense(b, count: added ? c + 1 : c)
        }
    }

    mutating func remove(_ o: Int32, capacity: Int) {
        switch self {
        case .sparse(var s):
            s.remove(o)
            self = .sparse(s)
        case .dense(var b, let c):
            let present = b.contains(Int(o))
            b.remove(Int(o))
            let count = present ? c - 1 : c
            if count < Self.sparseThreshold(capacity: capacity) {
                var s = Set<Int32>()
                b.forEach { s.insert(Int32($0)) }
                self = .sparse(s)
            } else {
                self = .dense(b, count: count)
            }
        }
    }

    func addTo(_ bits: inout Bitset) {
        switch self {
        case .sparse(let s): for o in s { bits.insert(Int(o)) }
        case .dense(let b, _): bits.formUnion(b)
        }
    }
}
