import FleetCore

/// `budgets.set`: at most `max_in_flight` hosts of `operation_type` in flight fleet-wide.
public struct BudgetSet: FleetMessage {
    public static let messageName = "budgets.set"

    public var operationType: String
    public var maxInFlight: Int

    public init(operationType: String, maxInFlight: Int) {
        self.operationType = operationType
        self.maxInFlight = maxInFlight
    }

    enum CodingKeys: String, CodingKey { case operationType = "operation_type", maxInFlight = "max_in_flight" }
}

/// One operation type's budget as `budgets.set` and `budgets.list` answer it: the ceiling (null
/// when none is set) and the hosts of the type in flight now.
public struct Budget: FleetMessage {
    public static let messageName = "budget"

    public var operationType: String
    public var maxInFlight: Int?
    public var inFlight: Int

    public init(operationType: String, maxInFlight: Int?, inFlight: Int) {
        self.operationType = operationType
        self.maxInFlight = maxInFlight
        self.inFlight = inFlight
    }

    enum CodingKeys: String, CodingKey { case operationType = "operation_type", maxInFlight = "max_in_flight", inFlight = "in_flight" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operationType, forKey: .operationType)
        try c.encode(maxInFlight, forKey: .maxInFlight)  // null, not absent: no ceiling
        try c.encode(inFlight, forKey: .inFlight)
    }
}

/// `budgets.list`: every operation type, with or without a ceiling.
public struct BudgetList: FleetMessage {
    public static let messageName = "budgets.list.reply"

    public var budgets: [Budget]

    public init(budgets: [Budget]) { self.budgets = budgets }
}
