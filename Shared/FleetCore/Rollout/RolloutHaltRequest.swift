/// A `rolling.halt` body: `{"id", "reason"}`. The reason is required, 1 to 1000 characters, not
/// blank: it is what an operator reads later to learn why the rollout stopped.
public struct RolloutHaltRequest: Sendable, Hashable {
    public var id: String
    public var reason: String

    public init(json: JSONValue) throws(ValidationError) {
        var r = ObjectReader(json, path: "", allowed: ["id", "reason"])
        let id = r.string("id", required: true, maxLength: 128)
        let reason = r.string("reason", required: true, maxLength: 1000)
        // Blank means only spaces, tabs and line breaks, as docs/openapi.yaml's pattern says.
        if let reason, reason.unicodeScalars.allSatisfy({ " \t\r\n".unicodeScalars.contains($0) }) {
            r.errors.add("reason", .invalidValue, "reason must not be blank")
        }
        try r.throwIfAny()
        self.id = id!
        self.reason = reason!
    }
}
