/// Failure domains of a rollout (docs/domain.md, "Rollouts"): `spread_by` names a host field or
/// `facts.<key>`, `max_per_domain` caps how many hosts of one value a batch may hold, and
/// `domain_order` says whether batches mix domains (`interleaved`) or finish one before starting
/// the next (`sequential`). Hosts missing the field form one domain of their own.
public struct FailureDomains: Sendable, Hashable, Codable {
    public enum Order: String, CaseIterable, Sendable, Hashable, Codable { case interleaved, sequential }
    public static let keys: Set<String> = ["spread_by", "max_per_domain", "domain_order"]

    /// A single-valued host field (not a list: a host would be in several domains), or a fact.
    public enum Key: Sendable, Hashable {
        case field(HostField)
        case fact(String)

        /// Lengths count Unicode scalars, as docs/openapi.yaml's pattern and maxLength do.
        public init?(_ text: String) {
            let scalars = text.unicodeScalars
            if scalars.starts(with: "facts.".unicodeScalars), scalars.count > 6, scalars.count <= 128 {
                self = .fact(String(String.UnicodeScalarView(scalars.dropFirst(6))))
            } else if let field = HostField(rawValue: text), field.kind != .stringList, field != .id {
                self = .field(field)
            } else {
                return nil
            }
        }

        public var name: String {
            switch self {
            case .field(let f): f.rawValue
            case .fact(let k): "facts.\(k)"
            }
        }

        /// The host's value of this key, as text; nil when it has none.
        public func value(of host: FleetHost) -> String? {
            switch self {
            case .field(let f):
                switch host[f] {
                case .string(let s)?: return s
                case .bool(let b)?: return b ? "true" : "false"
                case .int(let i)?: return String(i)
                case .strings?, nil: return nil
                }
            case .fact(let k):
                switch host.facts[k] {
                case .string(let s)?: return s
                case .number(let d)?: return d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
                case .bool(let b)?: return b ? "true" : "false"
                case nil: return nil
                }
            }
        }
    }

    public let spreadBy: String
    public let maxPerDomain: Int
    public let order: Order

    enum CodingKeys: String, CodingKey { case spreadBy = "spread_by", maxPerDomain = "max_per_domain", order = "domain_order" }

    public init(spreadBy: String, maxPerDomain: Int, order: Order = .interleaved) {
        self.spreadBy = spreadBy
        self.maxPerDomain = maxPerDomain
        self.order = order
    }

    /// From a rollout request's fields; nil when `spread_by` is absent (then the others must be too).
    public static func read(_ o: [String: JSONValue], path base: String) throws(ValidationError) -> FailureDomains? {
        var errors = FieldErrors()
        let given = { (k: String) in o[k].map { $0 != .null } ?? false }
        guard given("spread_by") else {
            for k in ["max_per_domain", "domain_order"] where given(k) { errors.add(path(base, k), .invalidValue, "\(k) needs spread_by") }
            try errors.throwIfAny()
            return nil
        }
        let text = o["spread_by"]?.stringValue
        if text.flatMap(Key.init) == nil {
            errors.add(
                path(base, "spread_by"), .invalidValue, "spread_by is a single-valued host field (platform, site_id, ...) or facts.<key>")
        }
        var max = 0
        if let v = o["max_per_domain"]?.intValue, v >= 1, v <= 1_000_000 {
            max = Int(v)
        } else {
            errors.add(path(base, "max_per_domain"), given("max_per_domain") ? .invalidValue : .required, "max_per_domain is an integer from 1 to 1000000")
        }
        var order = Order.interleaved
        if given("domain_order") {
            if let s = o["domain_order"]?.stringValue, let value = Order(rawValue: s) {
                order = value
            } else {
                errors.add(path(base, "domain_order"), .invalidValue, "domain_order is interleaved or sequential")
            }
        }
        try errors.throwIfAny()
        return FailureDomains(spreadBy: text!, maxPerDomain: max, order: order)
    }

    /// The hosts in the order the rollout takes them, and its batches: each batch holds at most
    /// `sizes(k)` hosts (the plan's size for batch k) and at most `maxPerDomain` of one domain,
    /// and closes early when no remaining host fits. `interleaved` takes the domains in turn
    /// (by value; hosts with none last); `sequential` takes a batch from one domain only and
    /// starts the next domain once the last is placed. Within a domain hosts keep their order.
    public func arrange(_ hosts: [(id: String, domain: String?)], sizes: (Int) -> Int) -> (hosts: [String], batches: [Int]) {
        var groups: [String?: [String]] = [:]
        for h in hosts { groups[h.domain, default: []].append(h.id) }
        let domains = groups.keys.sorted { a, b in
            switch (a, b) {
            case (nil, _): false
            case (_, nil): true
            case (let x?, let y?): x < y
            }
        }
        var queues = domains.map { groups[$0]![...] }
        var ordered: [String] = []
        var batches: [Int] = []
        var next = 0  // interleaved: the domain to take from first
        while queues.contains(where: { !$0.isEmpty }) {
            let capacity = max(1, sizes(batches.count))
            var batch: [String] = []
            switch order {
            case .sequential:
                guard let d = queues.firstIndex(where: { !$0.isEmpty }) else { break }
                while batch.count < min(capacity, maxPerDomain), let id = queues[d].popFirst() { batch.append(id) }
            case .interleaved:
                var taken = Array(repeating: 0, count: queues.count)
                var progressed = true
                while batch.count < capacity && progressed {
                    progressed = false
                    for step in 0..<queues.count where batch.count < capacity {
                        let d = (next + step) % queues.count
                        guard taken[d] < maxPerDomain, let id = queues[d].popFirst() else { continue }
                        batch.append(id)
                        taken[d] += 1
                        progressed = true
                    }
                }
                next = (next + 1) % max(1, queues.count)
            }
            ordered += batch
            batches.append(batch.count)
        }
        return (ordered, batches)
    }

    public var json: JSONValue {
        ["spread_by": .string(spreadBy), "max_per_domain": .int(Int64(maxPerDomain)), "domain_order": .string(order.rawValue)]
    }
}
