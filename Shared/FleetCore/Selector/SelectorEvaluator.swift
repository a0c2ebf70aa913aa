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

extension InventoryIndex {
    /// Resolves a compiled selector. Clauses answerable from the postings narrow the candidates
    /// first; only the survivors are checked clause by clause.
    public func select(_ selector: CompiledSelector, explain: Bool = false) -> Selection {
        var ids: [String] = []
        var unknown: [String] = []
        var explicitKnown = Set<String>()
        for id in selector.explicitIDs {
            if contains(id) { explicitKnown.insert(id) } else { unknown.append(id) }
        }
        if selector.criteriaEnabled {
            var candidates = liveOrdinals
            for clause in selector.clauses {
                if let bits = indexBits(clause.predicate) { candidates.formIntersection(bits) }
            }
            candidates.forEach { ordinal in
                guard let r = records[ordinal] else { return }
                if selector.clauses.allSatisfy({ $0.predicate.holds(for: r) }) { ids.append(r.host.id) }
            }
        }
        for id in explicitKnown { ids.append(id) }
        var seen = Set<String>()
        ids = ids.filter { !selector.excludedIDs.contains($0) && seen.insert($0).inserted }.sorted()
        var result = Selection(hostIDs: ids, unknownHostIDs: unknown.sorted(), explanation: nil)
        if explain { result.explanation = explanation(selector, selected: ids, explicitKnown: explicitKnown) }
        return result
    }

    /// The ordinals a predicate can hold for, from the postings alone; nil when it needs a scan.
    private func indexBits(_ p: Predicate) -> Bitset? {
        switch p {
        case .test(.field(let f), .equals(let v)) where f.isIndexed:
            return bits(f, [v])
        case .test(.field(let f), .oneOf(let vs)) where f.isIndexed:
            return bits(f, Array(vs))
        case .memberOf(let ids):
            var b = Bitset(capacity: capacity)
            for id in ids { if let o = ordinal(of: id) { b.insert(o) } }
            return b
        case .all(let ps):
            var acc: Bitset?
            for q in ps {
                if let b = indexBits(q) {
                    if acc == nil { acc = b } else { acc!.formIntersection(b) }
                }
            }
            return acc
        case .any(let ps):
            var acc = Bitset(capacity: capacity)
            for q in ps {
                guard let b = indexBits(q) else { return nil }
                acc.formUnion(b)
            }
            return acc
        default:
            return nil
        }
    }

    private func bits(_ field: HostField, _ values: [Scalar]) -> Bitset {
        var b = Bitset(capacity: capacity)
        for v in values {
            let key: String? = switch v {
            case .string(let s): s
            case .bool(let x): x ? "true" : "false"
            case .number: nil  // no indexed field is numeric
            }
            if let key, let ords = postings(field, key) { for o in ords { b.insert(Int(o)) } }
        }
        return b
    }

    private func explanation(_ selector: CompiledSelector, selected: [String], explicitKnown: Set<String>) -> Explanation {
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
