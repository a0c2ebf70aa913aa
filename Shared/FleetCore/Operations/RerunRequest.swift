/// A rerun body (`POST /bulk/{id}/rerun`, `POST /rolling/{id}/rerun`): which hosts of the
/// original to run again, by final status and, optionally, reason. The new operation (or
/// rollout) has the original's type, parameters and policy, over exactly the hosts that match.
public struct RerunRequest: Sendable, Hashable {
    public static let keys: Set<String> = ["id", "statuses", "reasons"]
    public static let statusChoices: [HostStatus] = [.succeeded, .failed, .skipped]

    public var id: String
    public var statuses: Set<HostStatus>
    /// Empty: any reason (and none).
    public var reasons: Set<HostReason>

    public init(json: JSONValue) throws(ValidationError) {
        var r = ObjectReader(json, path: "", allowed: Self.keys)
        let id = r.string("id", required: true, maxLength: 128)
        let statuses = r.array("statuses", required: true, nonEmpty: true) { item, at, errors -> HostStatus? in
            guard let s = item.stringValue, let status = HostStatus(rawValue: s), Self.statusChoices.contains(status) else {
                errors.add(at, .invalidValue, "a status is one of \(Self.statusChoices.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return status
        }
        let reasons = r.array("reasons") { item, at, errors -> HostReason? in
            guard let s = item.stringValue, let reason = HostReason(rawValue: s) else {
                errors.add(at, .invalidValue, "a reason is one of \(HostReason.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return reason
        }
        for reason in reasons where !statuses.contains(reason.status) {
            r.errors.add("reasons", .invalidValue, "reason \(reason.rawValue) belongs to status \(reason.status.rawValue), which statuses leaves out")
        }
        try r.throwIfAny()
        self.id = id!
        self.statuses = Set(statuses)
        self.reasons = Set(reasons)
    }

    /// Whether a host that ended with `status` (and `reason`) is run again.
    public func matches(_ status: HostStatus, _ reason: HostReason?) -> Bool {
        guard statuses.contains(status) else { return false }
        guard !reasons.isEmpty else { return true }
        return reason.map(reasons.contains) ?? false
    }
}
