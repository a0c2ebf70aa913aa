import FleetCore

/// The error body of HTTP answers and bus replies alike (docs/openapi.yaml (errors and shapes)).
public struct ErrorBody: Sendable, Hashable {
    public var error: String
    public var message: String
    public var details: [FieldError]
    /// For `feature_not_enabled`.
    public var feature: String?

    public init(error: String, message: String, details: [FieldError] = [], feature: String? = nil) {
        self.error = error
        self.message = message
        self.details = details
        self.feature = feature
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["error": .string(error), "message": .string(message)]
        o["details"] = .array(details.map { .object(["field": .string($0.field), "code": .string($0.code.rawValue), "message": .string($0.message)]) })
        if let feature { o["feature"] = .string(feature) }
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard let code = json["error"]?.stringValue else { return nil }
        error = code
        message = json["message"]?.stringValue ?? ""
        details = (json["details"]?.arrayValue ?? []).compactMap { d in
            guard let f = d["field"]?.stringValue, let c = d["code"]?.stringValue.flatMap(FieldError.Code.init(rawValue:)) else { return nil }
            return FieldError(f, c, d["message"]?.stringValue ?? "")
        }
        feature = json["feature"]?.stringValue
    }
}

/// A command's answer: `{"status": 200, "body": {...}}` or `{"status": 4xx/5xx, "error": {...}}`,
/// so that the gateway's translation to HTTP is mechanical.
public struct BusReply: Sendable, Hashable {
    public var status: Int
    public var body: JSONValue?
    public var error: ErrorBody?

    public static func ok(_ body: JSONValue, status: Int = 200) -> BusReply { BusReply(status: status, body: body, error: nil) }

    public static func failure(_ status: Int, _ code: String, _ message: String, details: [FieldError] = []) -> BusReply {
        BusReply(status: status, body: nil, error: ErrorBody(error: code, message: message, details: details))
    }

    public static func validation(_ e: ValidationError) -> BusReply {
        failure(422, "validation_failed", e.description, details: e.errors)
    }

    public static func conflict(_ e: ConflictError) -> BusReply {
        failure(e.kind == .notFound ? 404 : 409, e.code, e.message)
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["status": .int(Int64(status))]
        if let body { o["body"] = body }
        if let error { o["error"] = error.json }
        return .object(o)
    }

    public init(status: Int, body: JSONValue?, error: ErrorBody?) {
        self.status = status
        self.body = body
        self.error = error
    }

    public init?(json: JSONValue) {
        guard let s = json["status"]?.intValue else { return nil }
        status = Int(s)
        body = json["body"]
        error = json["error"].flatMap(ErrorBody.init(json:))
    }
}
