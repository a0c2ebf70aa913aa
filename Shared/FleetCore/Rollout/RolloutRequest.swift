/// A validated `rolling.create` body: a bulk operation's fields (what, where, limits) plus the
/// rollout settings (batches, delay, failure threshold). Every field error is reported at once.
public struct RolloutRequest: Sendable, Hashable {
    public var operation: BulkOperationRequest
    public var settings: RolloutSettings

    /// A rollout dispatches its own batches, so `dispatch` is not one of its fields.
    public static let keys = BulkOperationRequest.keys.subtracting(["dispatch"]).union(RolloutSettings.keys)

    public init(json: JSONValue) throws(ValidationError) {
        var errors = FieldErrors()
        guard case .object(let o) = json else { throw ValidationError("", .invalidType, "the body is a JSON object") }
        for key in o.keys.sorted() where !Self.keys.contains(key) {
            errors.add(key, .unknownField, "unknown field '\(key)'")
        }
        // `notify` is the rollout's (POSTed when the rollout ends), not its operation's.
        var operationFields = o.filter { BulkOperationRequest.keys.contains($0.key) && $0.key != "dispatch" && $0.key != "notify" }
        operationFields["dispatch"] = false
        var operation: BulkOperationRequest?
        do throws(ValidationError) { operation = try BulkOperationRequest(json: .object(operationFields)) } catch { errors.add(error) }
        var settings: RolloutSettings?
        do throws(ValidationError) { settings = try RolloutSettings(json: o.filter { RolloutSettings.keys.contains($0.key) }) } catch {
            errors.add(error)
        }
        let notify = Notify.read(o["notify"], path: "notify", into: &errors)
        settings?.notify = notify
        try errors.throwIfAny()
        self.operation = operation!
        self.settings = settings!
    }
}
