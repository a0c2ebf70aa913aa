/// One condition, or a combination of them.
public indirect enum Criterion: Sendable, Hashable {
    case condition(field: String, op: SelectorOperator, value: JSONValue)
    case any([Criterion])
    case all([Criterion])
    case not(Criterion)
}

/// Which hosts an operation targets (docs/domain.md, "Selector"):
/// `explicit_host_ids` UNION (hosts matching the AND of criteria and shortcuts) MINUS `exclude_host_ids`.
public struct HostSelector: Sendable, Hashable {
    public var explicitHostIDs: [String] = []
    public var excludeHostIDs: [String] = []
    public var criteria: [Criterion] = []
    public var platforms: [String]?
    public var tags: [String]?
    public var groups: [String]?
    public var approvalStatus: String?
    public var allHosts = false

    public init(
        explicitHostIDs: [String] = [], excludeHostIDs: [String] = [], criteria: [Criterion] = [],
        platforms: [String]? = nil, tags: [String]? = nil, groups: [String]? = nil,
        approvalStatus: String? = nil, allHosts: Bool = false
    ) {
        self.explicitHostIDs = explicitHostIDs
        self.excludeHostIDs = excludeHostIDs
        self.criteria = criteria
        self.platforms = platforms
        self.tags = tags
        self.groups = groups
        self.approvalStatus = approvalStatus
        self.allHosts = allHosts
    }

    static let keys: Set<String> = [
        "explicit_host_ids", "exclude_host_ids", "criteria", "platforms", "tags",
        "groups", "approval_status", "all_hosts",
    ]

    /// Decodes a selector, naming every wrong field (`criteria[1].op`, `tags[0]`, ...).
    /// `extraKeys` are keys the caller handles itself (such as `explain`).
    public init(json: JSONValue, path base: String = "", extraKeys: Set<String> = []) throws(ValidationError) {
        guard let o = json.objectValue else {
            throw ValidationError(base.isEmpty ? "selector" : base, .invalidType, "a selector must be an object, got \(json.typeName)")
        }
        var errors = FieldErrors()
        for key in o.keys.sorted() where !Self.keys.contains(key) && !extraKeys.contains(key) {
            errors.add(path(base, key), .unknownField, "unknown selector field '\(key)'")
        }
        func strings(_ key: String) -> [String]? {
            guard let v = o[key], v != .null else { return nil }
            guard let a = v.arrayValue else {
                errors.add(path(base, key), .invalidType, "\(key) must be an array of strings, got \(v.typeName)")
                return nil
            }
            var out: [String] = []
            for (i, item) in a.enumerated() {
                if let s = item.stringValue, !s.isEmpty {
                    out.append(s)
                } else {
                    errors.add(path(path(base, key), i), .invalidType, "\(key) entries must be non-empty strings")
                }
            }
            return out
        }
        explicitHostIDs = strings("explicit_host_ids") ?? []
        excludeHostIDs = strings("exclude_host_ids") ?? []
        platforms = strings("platforms")
        tags = strings("tags")
        groups = strings("groups")
        if let v = o["approval_status"], v != .null {
            if let s = v.stringValue, FleetHost.approvalStatuses.contains(s.lowercased()) {
                approvalStatus = s.lowercased()
            } else {
                errors.add(
                    path(base, "approval_status"), .invalidValue,
                    "approval_status must be one of \(FleetHost.approvalStatuses.sorted().joined(separator: ", "))")
            }
        }
        if let v = o["all_hosts"], v != .null {
            if let b = v.boolValue {
                allHosts = b
            } else {
                errors.add(path(base, "all_hosts"), .invalidType, "all_hosts must be a boolean, got \(v.typeName)")
            }
        }
        if let v = o["criteria"], v != .null {
            if let a = v.arrayValue {
                for (i, item) in a.enumerated() {
                    do throws(ValidationError) {
                        criteria.append(try Criterion(json: item, path: path(path(base, "criteria"), i), depth: 1))
                    } catch {
                        errors.add(error)
                    }
                }
            } else {
                errors.add(path(base, "criteria"), .invalidType, "criteria must be an array, got \(v.typeName)")
            }
        }
        try errors.throwIfAny()
        try SelectorLimits.standard.violations(of: self, path: base).throwIfAny()
    }

    /// True when the criteria part selects nothing by itself (no criteria, shortcuts or all_hosts):
    /// an empty selector is empty, never "all hosts".
    public var criteriaPartIsEmpty: Bool {
        criteria.isEmpty && platforms == nil && tags == nil && groups == nil && approvalStatus == nil && !allHosts
    }
}

extension Criterion {
    /// `depth` is how deep this criterion nests (a top-level one is 1): past the limit it is
    /// refused before its inside is read, so no nesting can exhaust the stack.
    public init(json: JSONValue, path at: String, depth: Int = 1) throws(ValidationError) {
        let maxDepth = SelectorLimits.standard.maxDepth
        guard depth <= maxDepth else { throw ValidationError(at, .tooLarge, "criteria nest \(depth) deep here; at most \(maxDepth)") }
        guard let o = json.objectValue else {
            throw ValidationError(at, .invalidType, "a criterion must be an object, got \(json.typeName)")
        }
        let combinators = ["any", "all", "not"].filter { o[$0] != nil }
        if let key = combinators.first {
            guard o.count == 1 else {
                throw ValidationError(at, .invalidValue, "'\(key)' must be the criterion's only key")
            }
            let inner = o[key]!
            if key == "not" {
                self = .not(try Criterion(json: inner, path: path(at, "not"), depth: depth + 1))
                return
            }
            guard let items = inner.arrayValue, !items.isEmpty else {
                throw ValidationError(path(at, key), .invalidType, "'\(key)' must be a non-empty array of criteria")
            }
            var errors = FieldErrors()
            var parsed: [Criterion] = []
            for (i, item) in items.enumerated() {
                do throws(ValidationError) { parsed.append(try Criterion(json: item, path: path(path(at, key), i), depth: depth + 1)) } catch {
                    errors.add(error)
                }
            }
            try errors.throwIfAny()
            self = key == "any" ? .any(parsed) : .all(parsed)
            return
        }
        var errors = FieldErrors()
        for key in o.keys.sorted() where !["field", "op", "value"].contains(key) {
            errors.add(path(at, key), .unknownField, "unknown criterion key '\(key)' (expected field, op, value, or any/all/not)")
        }
        let field = o["field"]?.stringValue
        if field == nil { errors.add(path(at, "field"), .required, "field is required and must be a string") }
        var op: SelectorOperator?
        if let raw = o["op"]?.stringValue {
            op = SelectorOperator(rawValue: raw.lowercased())
            if op == nil {
                errors.add(
                    path(at, "op"), .invalidValue,
                    "unknown operator '\(raw)'; expected one of \(SelectorOperator.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        } else {
            errors.add(path(at, "op"), .required, "op is required and must be a string")
        }
        var value = o["value"]
        if value == nil, op == .exists { value = .bool(true) }
        if value == nil, op != nil { errors.add(path(at, "value"), .required, "value is required") }
        try errors.throwIfAny()
        self = .condition(field: field!, op: op!, value: value!)
    }
}

extension Criterion {
    /// The criterion as JSON, in the form `init(json:path:)` reads.
    public var json: JSONValue {
        switch self {
        case .condition(let field, let op, let value): ["field": .string(field), "op": .string(op.rawValue), "value": value]
        case .any(let items): ["any": .array(items.map(\.json))]
        case .all(let items): ["all": .array(items.map(\.json))]
        case .not(let inner): ["not": inner.json]
        }
    }
}
