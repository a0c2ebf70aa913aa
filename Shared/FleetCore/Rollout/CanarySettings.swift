/// A rollout's canary (docs/domain.md, "Rollouts"): the first batch, of its own size; once every
/// canary host is terminal within the budget the rollout soaks, runs its gates, and with `manual`
/// promotion waits for an operator before the rest goes.
public struct CanarySettings: Sendable, Hashable {
    public enum Promotion: String, CaseIterable, Sendable, Hashable, Codable { case auto, manual }
    public static let keys: Set<String> = ["hosts", "soak_seconds", "promotion"]

    public var hosts: BatchSize
    public var soakSeconds: Int
    public var promotion: Promotion

    public init(hosts: BatchSize, soakSeconds: Int = 0, promotion: Promotion = .auto) {
        self.hosts = hosts
        self.soakSeconds = soakSeconds
        self.promotion = promotion
    }

    public init(json: JSONValue, path base: String) throws(ValidationError) {
        var r = ObjectReader(json, path: base, allowed: Self.keys)
        var hosts = BatchSize.count(1)
        if let v = r.raw("hosts") {
            do throws(ValidationError) { hosts = try BatchSize(json: v, path: r.at("hosts")) } catch { r.errors.add(error) }
        } else if json.objectValue != nil {
            r.errors.add(r.at("hosts"), .required, "hosts is required")
        }
        let soak = r.int("soak_seconds", in: 0...86_400, default: 0)
        let promotion = r.choice("promotion", default: Promotion.auto)
        try r.throwIfAny()
        self.init(hosts: hosts, soakSeconds: Int(soak ?? 0), promotion: promotion ?? .auto)
    }

    public var json: JSONValue {
        ["hosts": hosts.json, "soak_seconds": .int(Int64(soakSeconds)), "promotion": .string(promotion.rawValue)]
    }
}
