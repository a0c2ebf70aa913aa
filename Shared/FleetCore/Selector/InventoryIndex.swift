/// The host inventory in memory, indexed for selector evaluation.
///
/// Hosts get dense ordinals; indexed fields (HostField.isIndexed) keep value -> ordinals postings,
/// so `equals`/`in` clauses and shortcuts on them become set lookups, and only the hosts that pass
/// every lookup are checked against the rest of the selector. Upserts and deletes update the
/// postings of that one host; nothing is rebuilt.
public struct InventoryIndex: Sendable {
    private var ordinals: [String: Int32] = [:]
    private(set) var records: [HostRecord?] = []
    private var freeOrdinals: [Int32] = []
    private var postings: [HostField: [String: Set<Int32>]] = [:]

    public init() {}

    public init(_ hosts: some Sequence<Host>) {
        for h in hosts { upsert(h) }
    }

    public var count: Int { ordinals.count }
    public var capacity: Int { records.count }

    public func host(_ id: String) -> Host? { ordinals[id].flatMap { records[Int($0)]?.host } }
    public func contains(_ id: String) -> Bool { ordinals[id] != nil }
    public var hosts: [Host] { records.compactMap { $0?.host } }

    public mutating func upsert(_ host: Host) {
        let ordinal: Int32
        if let existing = ordinals[host.id] {
            ordinal = existing
            if let old = records[Int(existing)] { unindex(old, ordinal) }
        } else if let reused = freeOrdinals.popLast() {
            ordinal = reused
        } else {
            ordinal = Int32(records.count)
            records.append(nil)
        }
        let record = HostRecord(host)
        records[Int(ordinal)] = record
        ordinals[host.id] = ordinal
        index(record, ordinal)
    }

    @discardableResult
    public mutating func remove(_ id: String) -> Bool {
        guard let ordinal = ordinals.removeValue(forKey: id), let old = records[Int(ordinal)] else { return false }
        unindex(old, ordinal)
        records[Int(ordinal)] = nil
        freeOrdinals.append(ordinal)
        return true
    }

    func ordinal(of id: String) -> Int? { ordinals[id].map(Int.init) }

    /// Ordinals whose indexed `field` has `key` (lowercased; "true"/"false" for booleans).
    func postings(_ field: HostField, _ key: String) -> Set<Int32>? { postings[field]?[key] }

    var liveOrdinals: Bitset {
        var b = Bitset(capacity: records.count)
        for (i, r) in records.enumerated() where r != nil { b.insert(i) }
        return b
    }

    private static func keys(_ record: HostRecord, _ field: HostField) -> [String] {
        switch record.values[field.ordinal] {
        case .scalar(.string(let s))?: [s]
        case .scalar(.bool(let b))?: [b ? "true" : "false"]
        case .strings(let a)?: a
        default: []
        }
    }

    private mutating func index(_ record: HostRecord, _ ordinal: Int32) {
        for field in HostField.allCases where field.isIndexed {
            for key in Self.keys(record, field) { postings[field, default: [:]][key, default: []].insert(ordinal) }
        }
    }

    private mutating func unindex(_ record: HostRecord, _ ordinal: Int32) {
        for field in HostField.allCases where field.isIndexed {
            for key in Self.keys(record, field) {
                postings[field]?[key]?.remove(ordinal)
                if postings[field]?[key]?.isEmpty == true { postings[field]?[key] = nil }
            }
        }
    }
}
