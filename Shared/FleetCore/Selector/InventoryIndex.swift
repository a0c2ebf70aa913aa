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
    private var postings: [HostField: [String: Posting]] = [:]
    /// The ordinals in use, kept current so a resolve does not walk every record to find them.
    private(set) var liveOrdinals = Bitset(capacity: 0)

    public init() {}

    public init(_ hosts: some Sequence<FleetHost>) {
        for h in hosts { upsert(h) }
    }

    public var count: Int { ordinals.count }
    public var capacity: Int { records.count }

    public func host(_ id: String) -> FleetHost? { ordinals[id].flatMap { records[Int($0)]?.host } }
    public func contains(_ id: String) -> Bool { ordinals[id] != nil }
    public var hosts: [FleetHost] { records.compactMap { $0?.host } }

    public mutating func upsert(_ host: FleetHost) {
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
        liveOrdinals.insert(Int(ordinal))
        index(record, ordinal)
    }

    @discardableResult
    public mutating func remove(_ id: String) -> Bool {
        guard let ordinal = ordinals.removeValue(forKey: id), let old = records[Int(ordinal)] else { return false }
        unindex(old, ordinal)
        records[Int(ordinal)] = nil
        liveOrdinals.remove(Int(ordinal))
        freeOrdinals.append(ordinal)
        return true
    }

    func ordinal(of id: String) -> Int? { ordinals[id].map(Int.init) }

    /// The hosts whose indexed `field` has `key` (lowercased; "true"/"false" for booleans).
    func posting(_ field: HostField, _ key: String) -> Posting? { postings[field]?[key] }

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
            for key in Self.keys(record, field) {
                postings[field, default: [:]][key, default: .sparse([])].insert(ordinal, capacity: records.count)
            }
        }
    }

    private mutating func unindex(_ record: HostRecord, _ ordinal: Int32) {
        for field in HostField.allCases where field.isIndexed {
            for key in Self.keys(record, field) {
                postings[field]?[key]?.remove(ordinal, capacity: records.count)
                if postings[field]?[key]?.count == 0 { postings[field]?[key] = nil }
            }
        }
    }
}
