/// A fleet-wide ceiling on hosts in flight (sent and not yet terminal) for one operation type,
/// across every operation (`PUT /api/v1/fleet/budgets/{operation_type}`).
public struct ConcurrencyBudget: Sendable, Hashable {
    public static let maxInFlightRange: ClosedRange<Int64> = 1...1_000_000
    public static let keys: Set<String> = ["operation_type", "max_in_flight"]

    public var operationType: OperationType
    public var maxInFlight: Int

    public init(operationType: OperationType, maxInFlight: Int) {
        self.operationType = operationType
        self.maxInFlight = maxInFlight
    }

    /// `{"operation_type", "max_in_flight"}`; each wrong field named.
    public init(json: JSONValue) throws(ValidationError) {
        var r = ObjectReader(json, path: "", allowed: Self.keys)
        let type: OperationType? = r.choice("operation_type", default: OperationType?.none)
        let max = r.int("max_in_flight", in: Self.maxInFlightRange)
        if max == nil, r.raw("max_in_flight") == nil { r.errors.add("max_in_flight", .required, "max_in_flight is required") }
        try r.throwIfAny()
        operationType = type!
        maxInFlight = Int(max!)
    }
}
