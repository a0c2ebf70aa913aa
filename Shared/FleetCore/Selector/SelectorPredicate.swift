/// A value compared case-insensitively: strings are stored lowercased.
enum Scalar: Hashable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
}

/// Where a test reads its value.
enum FieldRef: Hashable, Sendable {
    case field(HostField)
    case fact(String)
}

/// A positive test on one value; negative operators compile to `.not` around their positive twin.
enum ValueTest: Hashable, Sendable {
    case equals(Scalar)
    case oneOf(Set<Scalar>)
    case contains(String)
    case startsWith(String)
    case endsWith(String)
    case matches(SafeRegex)
    case exists(Bool)
    case compare(SelectorOperator, Double)
}

/// A type-checked criterion, ready to evaluate.
indirect enum Predicate: Hashable, Sendable {
    case test(FieldRef, ValueTest)
    case any([Predicate])
    case all([Predicate])
    case not(Predicate)
    /// Host is in one of these sets of host ids (the `groups` shortcut, resolved at compile time).
    case memberOf(Set<String>)
    case always
}

/// A host as the evaluator sees it: field values with strings lowercased, built once per upsert.
final class HostRecord: Sendable {
    enum Value: Sendable {
        case scalar(Scalar)
        case strings([String])
    }

    let host: FleetHost
    let values: [Value?]
    let facts: [String: Scalar]

    init(_ host: FleetHost) {
        self.host = host
        var values = [Value?](repeating: nil, count: HostField.allCases.count)
        for field in HostField.allCases {
            switch host[field] {
            case .string(let s)?: values[field.ordinal] = .scalar(.string(s.lowercased()))
            case .bool(let b)?: values[field.ordinal] = .scalar(.bool(b))
            case .int(let i)?: values[field.ordinal] = .scalar(.number(Double(i)))
            case .strings(let a)?: values[field.ordinal] = .strings(a.map { $0.lowercased() })
            case nil: break
            }
        }
        self.values = values
        self.facts = host.facts.mapValues {
            switch $0 {
            case .string(let s): .string(s.lowercased())
            case .number(let d): .number(d)
            case .bool(let b): .bool(b)
            }
        }
    }

    func value(_ ref: FieldRef) -> Value? {
        switch ref {
        case .field(let f): values[f.ordinal]
        case .fact(let k): facts[k].map { .scalar($0) }
        }
    }
}

extension Predicate {
    func holds(for r: HostRecord) -> Bool {
        switch self {
        case .test(let ref, let test): return test.holds(r.value(ref))
        case .any(let ps): return ps.contains { $0.holds(for: r) }
        case .all(let ps): return ps.allSatisfy { $0.holds(for: r) }
        case .not(let p): return !p.holds(for: r)
        case .memberOf(let ids): return ids.contains(r.host.id)
        case .always: return true
        }
    }
}

extension Predicate {
    /// A rough relative cost of checking one host, so cheap clauses reject hosts before dear ones run.
    var cost: Int {
        switch self {
        case .always, .memberOf: 1
        case .test(_, let t): t.cost
        case .not(let p): p.cost
        case .any(let ps), .all(let ps): ps.reduce(1) { $0 + $1.cost }
        }
    }
}

extension Predicate {
    /// The NFA steps of every `matches` inside, what checking one host can cost at most per
    /// input character.
    var programSteps: Int {
        switch self {
        case .test(_, .matches(let re)): re.program.count
        case .test, .always, .memberOf: 0
        case .not(let p): p.programSteps
        case .any(let ps), .all(let ps): ps.reduce(0) { $0 + $1.programSteps }
        }
    }
}

extension ValueTest {
    var cost: Int {
        switch self {
        case .exists, .compare: 1
        case .equals, .oneOf: 2
        case .startsWith, .endsWith: 3
        case .contains: 5
        case .matches: 50
        }
    }

    /// On a list the test holds when it holds for some element; on an absent value only `exists false` holds.
    func holds(_ value: HostRecord.Value?) -> Bool {
        guard let value else {
            if case .exists(let wanted) = self { return !wanted }
            return false
        }
        if case .exists(let wanted) = self { return wanted }
        switch value {
        case .scalar(let s): return holds(s)
        case .strings(let a): return a.contains { holds(.string($0)) }
        }
    }

    private func holds(_ s: Scalar) -> Bool {
        switch self {
        case .equals(let v): return s == v
        case .oneOf(let set): return set.contains(s)
        case .contains(let t): if case .string(let x) = s { return Substring.containsUTF8(x, t) } else { return false }
        case .startsWith(let t): if case .string(let x) = s { return x.hasPrefix(t) } else { return false }
        case .endsWith(let t): if case .string(let x) = s { return x.hasSuffix(t) } else { return false }
        case .matches(let re): if case .string(let x) = s { return re.search(x) } else { return false }
        case .compare(let op, let bound):
            guard case .number(let x) = s else { return false }
            switch op {
            case .gt: return x > bound
            case .gte: return x >= bound
            case .lt: return x < bound
            default: return x <= bound
            }
        case .exists: return true
        }
    }
}

extension Substring {
    /// Byte-wise substring search on UTF-8 (both sides already lowercased): much cheaper than
    /// `String.contains`, which compares by grapheme.
    static func containsUTF8(_ haystack: String, _ needle: String) -> Bool {
        var h = haystack
        var n = needle
        return h.withUTF8 { hb in
            n.withUTF8 { nb in
                guard nb.count <= hb.count else { return false }
                guard let first = nb.first else { return true }
                var i = 0
                let last = hb.count - nb.count
                while i <= last {
                    if hb[i] == first {
                        var j = 1
                        while j < nb.count && hb[i + j] == nb[j] { j += 1 }
                        if j == nb.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}
