/// `service_control`: start, stop, ... named services.
public struct ServiceControl: Sendable, Hashable {
    public var action: ServiceAction
    public var services: [String]

    static let keys: Set<String> = ["action", "services"]

    init(_ r: inout ObjectReader) {
        action = r.choice("action", default: ServiceAction?.none) ?? .start
        services = r.array("services", required: true, nonEmpty: true) { v, at, errors in
            guard let s = v.stringValue, Names.isServiceName(s) else {
                errors.add(at, .invalidValue, "service names are 1-256 characters of [A-Za-z0-9@._:-], not starting with '-'")
                return nil
            }
            return s
        }
    }

    var json: JSONValue { ["action": .string(action.rawValue), "services": .array(services.map { .string($0) })] }
}

/// `install_package` / `remove_package`.
public struct PackageChange: Sendable, Hashable {
    public var packages: [String]
    public var manager: PackageManager

    static let keys: Set<String> = ["packages", "manager"]

    init(_ r: inout ObjectReader) {
        packages = Names.packages(&r, "packages", required: true)
        manager = r.choice("manager", default: PackageManager.auto) ?? .auto
    }

    var json: JSONValue { ["packages": .array(packages.map { .string($0) }), "manager": .string(manager.rawValue)] }
}

/// `reboot` / `shutdown`: the agent reports success once the action is scheduled, then waits `delaySeconds`.
public struct PowerAction: Sendable, Hashable {
    public var delaySeconds: Int

    static let keys: Set<String> = ["delay_seconds"]

    init(_ r: inout ObjectReader) {
        delaySeconds = Int(r.int("delay_seconds", in: 0...3600, default: 0) ?? 0)
    }

    var json: JSONValue { ["delay_seconds": .int(Int64(delaySeconds))] }
}

/// Name rules shared by the parameter types.
enum Names {
    /// `[A-Za-z0-9@._:-]`, 1-256 long, not starting with `-` (it would read as an option).
    static func isServiceName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 256, s.first != "-" else { return false }
        return s.utf8.allSatisfy { isAlnum($0) || "@._:-".utf8.contains($0) }
    }

    /// `[A-Za-z0-9][A-Za-z0-9+._:~=-]*`, at most 256 long: the first character can never start an option.
    static func isPackageName(_ s: String) -> Bool {
        guard let first = s.utf8.first, isAlnum(first), s.utf8.count <= 256 else { return false }
        return s.utf8.allSatisfy { isAlnum($0) || "+._:~=-".utf8.contains($0) }
    }

    static func isAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

    static func packages(_ r: inout ObjectReader, _ key: String, required: Bool) -> [String] {
        r.array(key, required: required, nonEmpty: required) { v, at, errors in
            guard let s = v.stringValue, isPackageName(s) else {
                errors.add(at, .invalidValue, "package names are [A-Za-z0-9][A-Za-z0-9+._:~=-]*, at most 256 characters")
                return nil
            }
            return s
        }
    }
}
