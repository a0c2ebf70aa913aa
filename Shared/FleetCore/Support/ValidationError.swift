/// One thing wrong with a request, located by a path such as `criteria[2].op`.
public struct FieldError: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case required, unknownField = "unknown_field", invalidType = "invalid_type", invalidValue = "invalid_value"
        case unknownGroup = "unknown_group", unknownWindow = "unknown_window", tooLong = "too_long", tooLarge = "too_large"
        case tooExpensive = "too_expensive"
    }

    public let field: String
    public let code: Code
    public let message: String

    public init(_ field: String, _ code: Code, _ message: String) {
        self.field = field
        self.code = code
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// A request that cannot be accepted as it is: answered 422 with every field error in `details`.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [FieldError]

    public init(_ errors: [FieldError]) { self.errors = errors }
    public init(_ field: String, _ code: FieldError.Code, _ message: String) {
        self.errors = [FieldError(field, code, message)]
    }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
    /// The first field named, for callers that report one.
    public var field: String { errors.first?.field ?? "" }
}

/// Collects field errors while a request is checked, so one answer lists them all.
struct FieldErrors {
    private(set) var errors: [FieldError] = []

    mutating func add(_ field: String, _ code: FieldError.Code, _ message: String) {
        errors.append(FieldError(field, code, message))
    }

    mutating func add(_ error: ValidationError) { errors += error.errors }

    func throwIfAny() throws(ValidationError) {
        if !errors.isEmpty { throw ValidationError(errors) }
    }
}

/// Path helpers: `path("criteria", 2)` -> `criteria[2]`, `path("a", "b")` -> `a.b`.
func path(_ base: String, _ index: Int) -> String { "\(base)[\(index)]" }
func path(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }
