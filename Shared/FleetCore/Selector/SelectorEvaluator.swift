/// The answer to a selector: sorted, unique host ids, and the explicit ids the inventory lacks.
public struct Selection: Sendable, Equatable {
    public var hostIDs: [String]
    public var unknownHostIDs: [String]
    public var explanation: Explanation?

    public var count: Int { hostIDs.count }
}

/// Why hosts are in or out (`"explain": true`).
public struct Explanation: Sendable, Equatable {
    public struct Admitted: Sendable, Equatable {
        public let hostID: String
        /// `explicit_host_ids`, or `criteria` when every clause held.
        public let admittedBy: String
        /// For `criteria`: the clauses that held.
        public let clauses: [String]
    }

    public struct Rejected: Sendable, Equatable {
        public let hostID: String
        /// The first clause that failed, `exclude_host_ids`, or `no_criteria` when the criteria part is empty.
        public let rejectedBy: String
    }

    public var admitted: [Admitted]
    /// At most `Explanation.rejectedLimit` excluded inventory hosts, by id.
    public var rejected: [Rejected]

    public static let rejectedLimit = 100
}

/// A selection in progress over one index: the candidates the postings left, checked a slice at
/// a time, so a caller can stop at a deadline or a cancellation between slices and let other work
/// run (what `step(hosts:)` leaves is exactly what it has not looked at).
public struct SelectionRun: Sendable {
    let index: InventoryIndex
    let selector: CompiledSelector
    let candidates: [Int]
    let remaining: [Predicate]
    let unknown: [String]
    let explicitKnown: Set<String>
    private var position = 0
    private var ids: [String] = []

    init(index: InventoryIndex, selector: CompiledSelector) {
        self.index = index
        self.selector = selector
        var unknown: [String] = []
        var explicitKnown = Set<String>()
        for id in selector.explicitIDs {
            if index.contains(id) { explicitKnown.insert(id) } else { unknown.append(id) }
        }
        self.unknown = unknown
        self.explicitKnown = explicitKnown
        var ordinals: [Int] = []
        var remaining: [Predicate] = []
        if selector.criteriaEnabled {
            var narrowed = index.liveOrdinals
            for clause in selector.clauses {
                if let (bits, exact) = index.indexBits(clause.predicate) {
                    narrowed.formIntersection(bits)
                    if exact { continue }  // every candidate satisfies it: no need to check again
                }
                remaining.append(clause.predicate)
            }
            remaining.sort { $0.cost < $1.cost }
            narrowed.forEach { ordinals.append($0) }
        }
        candidates = ordinals
        self.remaining = remaining
    }

    public var isDone: Bool { position >= candidates.count }

    /// The rough cost of checking one host: a pattern costs its NFA steps for each of the 64
    /// characters a typical value has.
    public var costPerHost: Int { remaining.reduce(1) { $0 + $1.cost + $1.programSteps * 64 } }

    /// What is left to check, in the units of `costPerHost`.
    public var remainingCost: Int { (candidates.count - position) * costPerHost }

    /// Checks about `units` worth of candidates (at least one).
    public mutating func step(units: Int) { step(hosts: max(1, units / costPerHost)) }

    /// Checks up to `hosts` more candidates.
    public mutating func step(hosts: Int) {
        let end = hosts >= candidates.count - position ? candidates.count : position + max(1, hosts)
        for ordinal in candidates[position..<end] {
            guard let r = index.records[ordinal] else { continue }
            if remaining.allSatisfy({ $0.holds(for: r) }) { ids.append(r.host.id) }
        }
        position = end
    }

    /// The answer, once every candidate was checked.
    public func result(explain: Bool = false) -> Selection {
        var ids = ids
        for id in explicitKnown { ids.append(id) }
        var seen = Set<String>()
        ids = ids.filter { !selector.excludedIDs.contains($0) && seen.insert($0).inserted }.sorted()
        var result = Selection(hostIDs: ids, unknownHostIDs: unknown.sorted(), explanation: nil)
        if explain { result.explanation = index.explanation(selector, selected: ids, explicitKnown: explicitKnown) }
        return result
    }
}

extension InventoryIndex {
    /// Starts resolving a compiled selector. Clauses answerable from the postings narrow the
    /// candidates first; only the survivors are checked clause by clause, cheapest first.
    public func selection(_ selector: CompiledSelector) -> SelectionRun { SelectionRun(index: self, selector: selector) }

    /// Resolves a compiled selector in one go.
    public func select(_ selector: CompiledSelector, explain: Bool = false) -> Selection {
        var run = selection(selector)
        run.step(hosts: .max)
        return run.result(explain: explain)
    }

    /// The reference evaluation: every host checked against every clause, no index. Slow on
    /// purpose; tests and benchmarks hold `select` to it.
    public func selectByFullScan(_ selector: CompiledSelector) -> Selection {
        var ids = Set<String>()
        if selector.criteriaEnabled {
            for case let r? in records where selector.clauses.allSatisfy({ $0.predicate.holds(for: r) }) { ids.insert(r.host.id) }
        }
        ids.formUnion(selector.explicitIDs.filter(contains))
        ids.subtract(selector.excludedIDs)
        return Selection(hostIDs: ids.sorted(), unknownHostIDs: selector.explicitIDs.filter { !contains($0) }.sorted(), explanation: nil)
    }

    /// The ordinals a predicate can hold for, from the postings alone, and whether that set is
    /// exact (the predicate holds for every one of them); nil when it needs a scan.
    func indexBits(_ p: Predicate) -> (Bitset, exact: Bool)? {
        switch p {
        case .test(.field(let f), .equals(let v)) where f.isIndexed:
            return (bits(f, [v]), true)
        case .test(.field(let f), .oneOf(let vs)) where f.isIndexed:
            return (bits(f, Array(vs)), true)
        case .memberOf(let ids):
            var b = Bitset(capacity: capacity)
            for id in ids { if let o = ordinal(of: id) { b.insert(o) } }
            return (b, true)
        case .all(let ps):
            var acc: Bitset?
            var exact = true
            for q in ps {
                if let (b, e) = indexBits(q) {
                    if acc == nil { acc = b } else { acc!.formIntersection(b) }
                    exact = exact && e
                } else {
                    exact = false
                }
            }
            return acc.map { ($0, exact) }
        case .any(let ps):
            var acc = Bitset(capacity: capacity)
            var exact = true
            for q in ps {
                guard let (b, e) = indexBits(q) else { return nil }
                acc.formUnion(b)
                exact = exact && e
            }
            return (acc, exact)
        default:
            return nil
        }
    }

    private func bits(_ field: HostField, _ values: [Scalar]) -> Bitset {
        let keys: [String] = values.compactMap {
            switch $0 {
            case .string(let s): s
            case .bool(let x): x ? "true" : "false"
            case .number: nil  // no indexed field is numeric
            }
        }
        // One dense value: its bitset is the answer, copied, not rebuilt.
        if keys.count == 1, case .dense(let b, _)? = posting(field, keys[0]) { return b }
        var b = Bitset(capacity: capacity)
        for key in keys { posting(field, key)?.addTo(&b) }
        return b
    }

    func explanation(_ selector: CompiledSelector, selected: [String], explicitKnown: Set<String>) -> Explanation {
        let clauseLabels = selector.clauses.map(\.label)
        let admitted = selected.map { id in
            explicitKnown.contains(id)
                ? Explanation.Admitted(hostID: id, admittedBy: "explicit_host_ids", clauses: [])
                : Explanation.Admitted(hostID: id, admittedBy: "criteria", clauses: clauseLabels)
        }
        let selectedSet = Set(selected)
        var rejected: [Explanation.Rejected] = []
        for record in records.compactMap({ $0 }).sorted(by: { $0.host.id < $1.host.id }) where !selectedSet.contains(record.host.id) {
            let id = record.host.id
            let reason: String
            if selector.excludedIDs.contains(id) {
                reason = "exclude_host_ids"
            } else if !selector.criteriaEnabled {
                reason = "no_criteria"
            } else {
                reason = selector.clauses.first { !$0.predicate.holds(for: record) }?.label ?? "criteria"
            }
            rejected.append(Explanation.Rejected(hostID: id, rejectedBy: reason))
            if rejected.count == Explanation.rejectedLimit { break }
        }
        return Explanation(admitted: admitted, rejected: rejected)
    }
}
