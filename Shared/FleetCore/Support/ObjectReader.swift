/// Reads fields from a JSON object while collecting field errors (type, range, unknown keys), so a
/// parameter struct states its rules in a few lines and one answer lists every mistake.
struct ObjectReader {
    let object: [String: JSONValue]
    let base: String
    var errors = FieldErrors()

    /// Fails with a single error when `json` is not an object.
    init(_ json: JSONValue?, path base: String, allowed: Set<String>) {
        self.base = base
        guard let json, json != .null else {
            object = [:]
            return
        }
        guard let o = json.objectValue else {
            object = [:]
            errors.add(base, .invalidType, "\(base) must be an object, got \(json.typeName)")
            return
        }
        object = o
        for key in o.keys.sorted() where !allowed.contains(key) {
            errors.add(path(base, key), .unknownField, "unknown field '\(key)'; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }

    func at(_ key: String) -> String { path(base, key) }

    private func present(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    /// `maxLength` counts Unicode scalars, as JSON Schema's `maxLength` counts characters (docs/openapi.yaml
    /// states the same number); `maxBytes` bounds large content by its UTF-8 size.
    mutating func string(_ key: String, required: Bool = false, maxLength: Int = 4096, maxBytes: Int? = nil) -> String? {
        guard let v = present(key) else {
            if required { errors.add(at(key), .required, "\(key) is required") }
            return nil
        }
        guard let s = v.stringValue else {
            errors.add(at(key), .invalidType, "\(key) must be a string, got \(v.typeName)")
            return nil
        }
        if let maxBytes {
            guard s.utf8.count <= maxBytes else {
                errors.add(at(key), .tooLong, "\(key) is longer than \(maxBytes) bytes")
                return nil
            }
        } else if s.unicodeScalars.count > maxLength {
            errors.add(at(key), .tooLong, "\(key) is longer than \(maxLength) characters")
            return nil
        }
        return s
    }

    mutating func int(_ key: String, in range: ClosedRange<Int64>, default value: Int64? = nil) -> Int64? {
        guard let v = present(key) else { return value }
        guard let i = v.intValue, range.contains(i) else {
            errors.add(at(key), .invalidValue, "\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return i
    }

    mutating func bool(_ key: String, default value: Bool) -> Bool {
        guard let v = present(key) else { return value }
        guard let b = v.boolValue else {
            errors.add(at(key), .invalidType, "\(key) must be a boolean, got \(v.typeName)")
            return value
        }
        return b
    }

    /// Exactly one of the raw values, as docs/openapi.yaml's enums state them (case matters: a
    /// gate on the value, such as the gateway's feature check on `operation_type`, sees the same).
    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, default value: E?) -> E? where E.RawValue == String {
        guard let v = present(key) else {
            if value == nil { errors.add(at(key), .required, "\(key) is required") }
            return value
        }
        guard let s = v.stringValue, let e = E(rawValue: s) else {
            errors.add(at(key), .invalidValue, "\(key) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return e
    }

    /// An array whose items `item` reads; `item` returns nil after recording its own error.
    mutating func array<T>(
        _ key: String, required: Bool = false, nonEmpty: Bool = false,
        _ item: (JSONValue, String, inout FieldErrors) -> T?
    ) -> [T] {
        guard let v = present(key) else {
            if required { errors.add(at(key), .required, "\(key) is required") }
            return []
        }
        guard let a = v.arrayValue else {
            errors.add(at(key), .invalidType, "\(key) must be an array, got \(v.typeName)")
            return []
        }
        if nonEmpty && a.isEmpty { errors.add(at(key), .invalidValue, "\(key) must not be empty") }
        return a.enumerated().compactMap { i, x in item(x, path(at(key), i), &errors) }
    }

    func raw(_ key: String) -> JSONValue? { present(key) }

    func throwIfAny() throws(ValidationError) { try errors.throwIfAny() }
}
