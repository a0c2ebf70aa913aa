import FleetCore
import Foundation

/// Turns fleetctl's flags into request bodies. `--body` (JSON text, or `@file`) is the base; the
/// convenience flags set fields on top of it.
public struct RequestBuilder {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    var fields: [String: JSONValue]

    public init(body: String?) throws {
        guard let body else {
            fields = [:]
            return
        }
        let text = body.hasPrefix("@") ? try String(contentsOfFile: String(body.dropFirst()), encoding: .utf8) : body
        guard case .object(let o)? = JSONCoding.decode(Array(text.utf8)) else { throw Failure("--body is not a JSON object") }
        fields = o
    }

    public static var empty: RequestBuilder { RequestBuilder(fields: [:]) }

    init(fields: [String: JSONValue]) { self.fields = fields }

    public var json: JSONValue { .object(fields) }

    public mutating func set(_ key: String, _ value: JSONValue?) {
        if let value { fields[key] = value }
    }

    /// A selector from `--tags`, `--platforms`, `--hosts`, `--groups`, `--all` (comma-separated),
    /// merged into the body's `selector`.
    public mutating func selector(tags: String?, platforms: String?, hosts: String?, groups: String?, all: Bool, key: String = "selector") {
        var s = fields[key]?.objectValue ?? [:]
        for (field, list) in [("tags", tags), ("platforms", platforms), ("explicit_host_ids", hosts), ("groups", groups)] {
            if let list { s[field] = .array(Self.list(list).map { .string($0) }) }
        }
        if all { s["all_hosts"] = true }
        if !s.isEmpty || fields[key] != nil { fields[key] = .object(s) }
    }

    /// `--param key=value` pairs into `parameters` (a value that parses as JSON is taken as JSON:
    /// `timeout_seconds=30`, `packages=["nginx"]`; anything else is a string).
    public mutating func parameters(_ pairs: [String]) throws {
        guard !pairs.isEmpty else { return }
        var p = fields["parameters"]?.objectValue ?? [:]
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw Failure("--param takes key=value, got '\(pair)'") }
            let key = String(pair[..<eq]), raw = String(pair[pair.index(after: eq)...])
            p[key] = JSONCoding.decode(Array(raw.utf8)) ?? .string(raw)
        }
        fields["parameters"] = .object(p)
    }

    /// `10` -> 10, `10%` -> "10%".
    public static func size(_ text: String?) -> JSONValue? {
        guard let text else { return nil }
        return Int64(text).map { .int($0) } ?? .string(text)
    }

    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
