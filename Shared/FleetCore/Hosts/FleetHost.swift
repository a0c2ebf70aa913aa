import Foundation

/// A managed host: the fields of docs/domain.md, "Hosts" plus free-form `facts`.
public struct FleetHost: Sendable, Hashable {
    public let id: String
    public private(set) var fields: [HostField: FieldValue]
    public private(set) var facts: [String: FactValue]

    public static let approvalStatuses: Set<String> = ["pending", "approved", "rejected", "revoked"]
    public static let statuses: Set<String> = ["up", "down", "unknown"]

    public subscript(field: HostField) -> FieldValue? { field == .id ? .string(id) : fields[field] }

    /// The approval status, `pending` when absent.
    public var approvalStatus: String {
        if case .string(let s)? = fields[.approvalStatus] { return s }
        return "pending"
    }

    /// Builds a host from its JSON object, rejecting unknown fields and wrong types, each error named by field.
    public init(json: JSONValue, path base: String = "") throws(ValidationError) {
        guard let object = json.objectValue else {
            throw ValidationError(base.isEmpty ? "host" : base, .invalidType, "a host must be an object, got \(json.typeName)")
        }
        var errors = FieldErrors()
        var fields: [HostField: FieldValue] = [:]
        var facts: [String: FactValue] = [:]
        var id: String?
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            let at = path(base, key)
            if key == "facts" {
                facts = Self.facts(value, at, &errors)
                continue
            }
            guard let field = HostField(rawValue: key) else {
                errors.add(at, .unknownField, "unknown host field '\(key)'")
                continue
            }
            if value == .null, field != .id { continue }
            guard let v = Self.value(value, for: field, at, &errors) else { continue }
            if field == .id, case .string(let s) = v { id = s } else { fields[field] = v }
        }
        if id == nil, object["id"] == nil { errors.add(path(base, "id"), .required, "id is required") }
        try errors.throwIfAny()
        self.id = id!
        self.fields = fields
        self.facts = facts
    }

    /// A host id: the one id grammar (`RecordID`).
    public static func isValidID(_ s: String) -> Bool { RecordID.isValid(s) }

    private static func value(_ json: JSONValue, for field: HostField, _ at: String, _ errors: inout FieldErrors) -> FieldValue? {
        switch field.kind {
        case .string:
            guard let s = json.stringValue else {
                errors.add(at, .invalidType, "\(field.rawValue) must be a string, got \(json.typeName)")
                return nil
            }
            switch field {
            case .id where !isValidID(s):
                errors.add(at, .invalidValue, "id must be 1-128 characters of [A-Za-z0-9._:-]")
                return nil
            case .approvalStatus where !approvalStatuses.contains(s.lowercased()):
                errors.add(at, .invalidValue, "approval_status must be one of \(approvalStatuses.sorted().joined(separator: ", "))")
                return nil
            case .status where !statuses.contains(s.lowercased()):
                errors.add(at, .invalidValue, "status must be one of \(statuses.sorted().joined(separator: ", "))")
                return nil
            case .lastAccess where !isISO8601UTC(s):
                errors.add(at, .invalidValue, "last_access must be an ISO-8601 UTC timestamp such as 2026-01-02T03:04:05Z")
                return nil
            case .approvalStatus, .status:
                return .string(s.lowercased())
            default:
                return .string(s)
            }
        case .bool:
            guard let b = json.boolValue else {
                errors.add(at, .invalidType, "\(field.rawValue) must be a boolean, got \(json.typeName)")
                return nil
            }
            return .bool(b)
        case .int:
            guard let i = json.intValue, i >= 0 else {
                errors.add(at, .invalidType, "\(field.rawValue) must be a non-negative integer")
                return nil
            }
            return .int(i)
        case .stringList:
            guard let a = json.arrayValue else {
                errors.add(at, .invalidType, "\(field.rawValue) must be an array of strings, got \(json.typeName)")
                return nil
            }
            var out: [String] = []
            for (i, item) in a.enumerated() {
                guard let s = item.stringValue, !s.isEmpty else {
                    errors.add(path(at, i), .invalidType, "\(field.rawValue) entries must be non-empty strings")
                    continue
                }
                if !out.contains(s) { out.append(s) }
            }
            return .strings(out)
        }
    }

    private static func facts(_ json: JSONValue, _ at: String, _ errors: inout FieldErrors) -> [String: FactValue] {
        if json == .null { return [:] }
        guard let object = json.objectValue else {
            errors.add(at, .invalidType, "facts must be an object, got \(json.typeName)")
            return [:]
        }
        var out: [String: FactValue] = [:]
        for (key, value) in object {
            guard !key.isEmpty else {
                errors.add(at, .invalidValue, "fact names must not be empty")
                continue
            }
            switch value {
            case .string(let s): out[key] = .string(s)
            case .bool(let b): out[key] = .bool(b)
            case .int, .double: out[key] = .number(value.doubleValue!)
            default: errors.add(path(at, key), .invalidType, "facts are strings, numbers or booleans, got \(value.typeName)")
            }
        }
        return out
    }

    private static func isISO8601UTC(_ s: String) -> Bool {
        guard s.hasSuffix("Z") else { return false }
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return plain.date(from: s) != nil || fractional.date(from: s) != nil
    }

    /// The host as JSON, with snake_case keys and absent fields left out.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id)]
        for (field, value) in fields {
            switch value {
            case .string(let s): o[field.rawValue] = .string(s)
            case .bool(let b): o[field.rawValue] = .bool(b)
            case .int(let i): o[field.rawValue] = .int(i)
            case .strings(let a): o[field.rawValue] = .array(a.map { .string($0) })
            }
        }
        if !facts.isEmpty {
            o["facts"] = .object(
                facts.mapValues {
                    switch $0 {
                    case .string(let s): .string(s)
                    case .bool(let b): .bool(b)
                    case .number(let d): d.rounded() == d && abs(d) < 9e15 ? .int(Int64(d)) : .double(d)
                    }
                })
        }
        return .object(o)
    }
}

extension FleetHost: Codable {
    public init(from decoder: any Decoder) throws {
        try self.init(json: JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }
}
