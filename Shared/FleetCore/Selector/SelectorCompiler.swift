/// A selector checked against the field catalogue and ready to run over an `InventoryIndex`.
public struct CompiledSelector: Sendable {
    struct Clause: Sendable {
        let label: String
        let predicate: Predicate
    }

    let explicitIDs: [String]
    let excludedIDs: Set<String>
    let clauses: [Clause]
    /// False when the selector has no criteria, shortcuts or all_hosts: the criteria part is then empty.
    let criteriaEnabled: Bool

    /// Type-checks `selector`. `groupMembers` returns a group's effective member ids, or nil for an
    /// unknown group (a 422 naming it).
    public init(_ selector: HostSelector, groupMembers: (String) -> Set<String>? = { _ in nil }) throws(ValidationError) {
        var errors = FieldErrors()
        var clauses: [Clause] = []
        for (i, c) in selector.criteria.enumerated() {
            do throws(ValidationError) {
                clauses.append(Clause(label: path("criteria", i), predicate: try Self.compile(c, at: path("criteria", i))))
            } catch {
                errors.add(error)
            }
        }
        if let p = selector.platforms {
            clauses.append(Clause(label: "platforms", predicate: .test(.field(.platform), .oneOf(Set(p.map { .string($0.lowercased()) })))))
        }
        if let t = selector.tags {
            clauses.append(Clause(label: "tags", predicate: .test(.field(.tags), .oneOf(Set(t.map { .string($0.lowercased()) })))))
        }
        if let a = selector.approvalStatus {
            clauses.append(Clause(label: "approval_status", predicate: .test(.field(.approvalStatus), .equals(.string(a.lowercased())))))
        }
        if let groups = selector.groups {
            var members = Set<String>()
            for (i, g) in groups.enumerated() {
                if let m = groupMembers(g) {
                    members.formUnion(m)
                } else {
                    errors.add(path("groups", i), .unknownGroup, "unknown group '\(g)'")
                }
            }
            clauses.append(Clause(label: "groups", predicate: .memberOf(members)))
        }
        try errors.throwIfAny()
        let steps = clauses.reduce(0) { $0 + $1.predicate.programSteps }
        let budget = SelectorLimits.standard.maxProgramSteps
        guard steps <= budget else {
            throw ValidationError("criteria", .tooLarge, "the matches patterns expand to \(steps) NFA steps together; at most \(budget)")
        }
        var seen = Set<String>()
        explicitIDs = selector.explicitHostIDs.filter { seen.insert($0).inserted }
        excludedIDs = Set(selector.excludeHostIDs)
        self.clauses = clauses
        criteriaEnabled = !selector.criteriaPartIsEmpty
    }

    /// The AND of `criteria` alone, as group membership uses it (no shortcuts, nothing explicit).
    static func conjunction(_ criteria: [Criterion], at base: String) throws(ValidationError) -> Predicate {
        var errors = FieldErrors()
        var parts: [Predicate] = []
        for (i, c) in criteria.enumerated() {
            do throws(ValidationError) { parts.append(try compile(c, at: path(base, i))) } catch { errors.add(error) }
        }
        try errors.throwIfAny()
        return .all(parts)
    }

    static func compile(_ c: Criterion, at: String) throws(ValidationError) -> Predicate {
        switch c {
        case .any(let items): return .any(try compileAll(items, at: path(at, "any")))
        case .all(let items): return .all(try compileAll(items, at: path(at, "all")))
        case .not(let inner): return .not(try compile(inner, at: path(at, "not")))
        case .condition(let name, let op, let value):
            let ref = try fieldRef(name, at: path(at, "field"))
            let test = try valueTest(ref, op, value, criterion: at)
            return op.isNegative ? .not(.test(ref, test)) : .test(ref, test)
        }
    }

    private static func compileAll(_ items: [Criterion], at base: String) throws(ValidationError) -> [Predicate] {
        var errors = FieldErrors()
        var out: [Predicate] = []
        for (i, item) in items.enumerated() {
            do throws(ValidationError) { out.append(try compile(item, at: path(base, i))) } catch { errors.add(error) }
        }
        try errors.throwIfAny()
        return out
    }

    private static func fieldRef(_ name: String, at: String) throws(ValidationError) -> FieldRef {
        // By scalars: `hasPrefix` compares characters, and "facts." followed by a combining mark is not
        // a String prefix of it, though the spec's pattern `^facts\.` (and any client) says it is.
        if name.unicodeScalars.starts(with: "facts.".unicodeScalars) {
            let key = String(String.UnicodeScalarView(name.unicodeScalars.dropFirst(6)))
            guard !key.isEmpty else { throw ValidationError(at, .invalidValue, "facts.<key> needs a key") }
            return .fact(key)
        }
        guard let field = HostField(rawValue: name) else {
            throw ValidationError(
                at, .unknownField, "unknown field '\(name)'; selectable: \(HostField.allCases.map(\.rawValue).joined(separator: ", ")), facts.<key>")
        }
        return .field(field)
    }

    /// Checks that `op` applies to the field's type and that `value` has the type `op` needs.
    private static func valueTest(_ ref: FieldRef, _ op: SelectorOperator, _ value: JSONValue, criterion: String) throws(ValidationError) -> ValueTest {
        let at = path(criterion, "value")
        let opPath = path(criterion, "op")
        let kind: HostField.Kind? = if case .field(let f) = ref { f.kind } else { nil }  // nil: a fact, any type
        let name: String =
            switch ref {
            case .field(let f): f.rawValue
            case .fact(let k): "facts.\(k)"
            }
        func refuse(_ what: String) -> ValidationError { ValidationError(at, .invalidValue, what) }
        switch op {
        case .exists:
            guard let b = value.boolValue else { throw ValidationError(at, .invalidType, "exists takes true or false, got \(value.typeName)") }
            return .exists(b)
        case .equals, .notEquals:
            return .equals(try scalar(value, kind, name, at: at))
        case .in, .notIn:
            guard let items = value.arrayValue else {
                throw ValidationError(at, .invalidType, "\(op.rawValue) takes an array, got \(value.typeName)")
            }
            var set = Set<Scalar>()
            for (i, item) in items.enumerated() { set.insert(try scalar(item, kind, name, at: path(at, i))) }
            return .oneOf(set)
        case .contains, .notContains, .startsWith, .endsWith, .matches:
            if let kind, kind == .bool || kind == .int {
                throw ValidationError(
                    opPath, .invalidValue, "\(op.rawValue) applies to string fields, and \(name) is \(kind == .bool ? "a boolean" : "an integer")")
            }
            guard let s = value.stringValue else {
                throw ValidationError(at, .invalidType, "\(op.rawValue) takes a string, got \(value.typeName)")
            }
            switch op {
            case .matches:
                do throws(RegexError) { return .matches(try SafeRegex(s)) } catch {
                    throw refuse("invalid pattern: \(error.message) at offset \(error.offset)")
                }
            case .startsWith: return .startsWith(s.lowercased())
            case .endsWith: return .endsWith(s.lowercased())
            default: return .contains(s.lowercased())
            }
        case .gt, .gte, .lt, .lte:
            if let kind, kind != .int {
                throw ValidationError(opPath, .invalidValue, "\(op.rawValue) compares numbers, and \(name) is not an integer field")
            }
            guard let d = value.doubleValue else {
                throw ValidationError(at, .invalidType, "\(op.rawValue) takes a number, got \(value.typeName)")
            }
            return .compare(op, d)
        }
    }

    private static func scalar(_ value: JSONValue, _ kind: HostField.Kind?, _ name: String, at: String) throws(ValidationError) -> Scalar {
        switch (kind, value) {
        case (.string?, .string(let s)), (.stringList?, .string(let s)), (nil, .string(let s)): return .string(s.lowercased())
        case (.bool?, .bool(let b)), (nil, .bool(let b)): return .bool(b)
        case (.int?, _) where value.intValue != nil: return .number(Double(value.intValue!))
        case (nil, .int), (nil, .double): return .number(value.doubleValue!)
        default:
            let expected =
                switch kind {
                case .string?, .stringList?: "a string"
                case .bool?: "a boolean"
                case .int?: "an integer"
                case nil: "a string, number or boolean"
                }
            throw ValidationError(at, .invalidType, "\(name) compares with \(expected), got \(value.typeName)")
        }
    }
}
