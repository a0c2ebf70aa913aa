import Foundation

/// A named set of hosts: explicit ids, dynamic criteria, and the members of its descendants (docs/domain.md, "Groups").
public struct HostGroup: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    public var parentID: String?
    public var hostIDs: [String]
    public var criteria: [Criterion]

    public init(
        id: String, name: String, description: String? = nil, parentID: String? = nil,
        hostIDs: [String] = [], criteria: [Criterion] = []
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.parentID = parentID
        self.hostIDs = hostIDs
        self.criteria = criteria
    }

    static let keys: Set<String> = ["id", "name", "description", "parent_id", "host_ids", "criteria"]

    /// Decodes a group; `defaultID` is used when the body has no id (a create).
    public init(json: JSONValue, defaultID: String) throws(ValidationError) {
        guard let o = json.objectValue else { throw ValidationError("group", .invalidType, "a group must be an object") }
        var errors = FieldErrors()
        for key in o.keys.sorted() where !Self.keys.contains(key) { errors.add(key, .unknownField, "unknown group field '\(key)'") }
        func optionalString(_ key: String) -> String? {
            guard let v = o[key], v != .null else { return nil }
            guard let s = v.stringValue else {
                errors.add(key, .invalidType, "\(key) must be a string, got \(v.typeName)")
                return nil
            }
            return s
        }
        id = optionalString("id") ?? defaultID
        if !FleetHost.isValidID(id) { errors.add("id", .invalidValue, "id must be 1-128 characters of [A-Za-z0-9._:-]") }
        name = optionalString("name") ?? ""
        // Blank means only spaces, tabs and line breaks; the length counts Unicode scalars: both as docs/openapi.yaml says.
        let blank = name.unicodeScalars.allSatisfy { " \t\r\n".unicodeScalars.contains($0) }
        if blank || name.unicodeScalars.count > 200 {
            errors.add("name", o["name"] == nil ? .required : .invalidValue, "name is required: 1-200 characters, not only spaces")
        }
        description = optionalString("description")
        parentID = optionalString("parent_id")
        hostIDs = []
        if let v = o["host_ids"], v != .null {
            if let a = v.arrayValue {
                for (i, item) in a.enumerated() {
                    if let s = item.stringValue, FleetHost.isValidID(s) {
                        if !hostIDs.contains(s) { hostIDs.append(s) }
                    } else {
                        errors.add(path("host_ids", i), .invalidValue, "host ids are 1-128 characters of [A-Za-z0-9._:-]")
                    }
                }
            } else {
                errors.add("host_ids", .invalidType, "host_ids must be an array, got \(v.typeName)")
            }
        }
        criteria = []
        if let v = o["criteria"], v != .null {
            if let a = v.arrayValue {
                for (i, item) in a.enumerated() {
                    do throws(ValidationError) {
                        let c = try Criterion(json: item, path: path("criteria", i))
                        _ = try CompiledSelector.compile(c, at: path("criteria", i))  // type-check now, not at resolve time
                        criteria.append(c)
                    } catch { errors.add(error) }
                }
            } else {
                errors.add("criteria", .invalidType, "criteria must be an array, got \(v.typeName)")
            }
        }
        // A group's criteria join every selector that names it: the same caps as a selector's own.
        errors.add(ValidationError(SelectorLimits.standard.violations(of: HostSelector(criteria: criteria)).errors))
        try errors.throwIfAny()
    }
}

extension HostGroup {
    /// The group as JSON, in the form `init(json:defaultID:)` reads.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "name": .string(name), "host_ids": .array(hostIDs.map { .string($0) }),
            "criteria": .array(criteria.map(\.json)),
        ]
        o["description"] = description.map { .string($0) } ?? .null
        o["parent_id"] = parentID.map { .string($0) } ?? .null
        return .object(o)
    }
}
