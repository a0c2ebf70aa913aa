import FleetCore
import Foundation

/// `~/.config/fleetctl/config.json` (or `FLEETCTL_CONFIG`): named contexts, the way kubectl and
/// nomad keep them, so a token never has to be typed:
///
///     {"current_context": "prod",
///      "contexts": {"prod": {"url": "https://fleet.example:8080", "token_file": "~/.fleet/prod.token", "output": "table"},
///                   "lab":  {"url": "http://127.0.0.1:8080", "token_file": "~/.fleet/lab.token", "output": "json"}}}
///
/// What a command uses, first found: its flags, the environment (`FLEET_URL`, `FLEET_TOKEN`), the
/// context (`--context`, else `FLEET_CONTEXT`, else `current_context`), the defaults.
public struct FleetctlConfig: Sendable, Equatable {
    public struct Context: Sendable, Equatable {
        public var url: String?
        public var tokenFile: String?
        /// The context's `output`: true for json, false for table, nil when it says nothing.
        public var json: Bool?

        public init(url: String? = nil, tokenFile: String? = nil, json: Bool? = nil) {
            self.url = url
            self.tokenFile = tokenFile
            self.json = json
        }
    }

    public var currentContext: String?
    public var contexts: [String: Context]

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The default location: `$XDG_CONFIG_HOME/fleetctl/config.json`, else `~/.config/fleetctl/config.json`.
    public static func defaultPath(_ env: [String: String]) -> String {
        if let path = env["FLEETCTL_CONFIG"], !path.isEmpty { return path }
        let base = env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.config")
        return base + "/fleetctl/config.json"
    }

    public static let empty = FleetctlConfig(currentContext: nil, contexts: [:])

    /// Reads the file at `path`; none there is an empty configuration. A file that is there but
    /// not valid is an error naming what is wrong (a typo must not silently send to another gateway).
    public static func load(path: String, home: String) throws(Failure) -> FleetctlConfig {
        guard let data = FileManager.default.contents(atPath: path) else { return .empty }
        return try parse(Array(data), home: home, source: path)
    }

    public static func parse(_ bytes: [UInt8], home: String, source: String = "the configuration") throws(Failure) -> FleetctlConfig {
        guard case .object(let root)? = JSONCoding.decode(bytes) else { throw Failure(description: "\(source) is not a JSON object") }
        var config = FleetctlConfig.empty
        switch root["current_context"] {
        case nil, .null?: break
        case .string(let name)?: config.currentContext = name
        default: throw Failure(description: "\(source): current_context is a context's name")
        }
        guard case .object(let contexts)? = root["contexts"] ?? .object([:]) else {
            throw Failure(description: "\(source): contexts is an object of named contexts")
        }
        for (name, value) in contexts {
            guard case .object(let o) = value else { throw Failure(description: "\(source): context \(name) is an object") }
            var context = Context()
            for (key, v) in o {
                switch (key, v) {
                case ("url", .string(let url)): context.url = url
                case ("token_file", .string(let file)): context.tokenFile = file.hasPrefix("~/") ? home + file.dropFirst() : file
                case ("output", .string("json")): context.json = true
                case ("output", .string("table")): context.json = false
                default: throw Failure(description: "\(source): context \(name): \(key) is not one of url, token_file, output (json or table)")
                }
            }
            config.contexts[name] = context
        }
        if let current = config.currentContext, config.contexts[current] == nil {
            throw Failure(description: "\(source): current_context \(current) is not among the contexts")
        }
        return config
    }

    /// The context a command runs in: `name` (the flag, else `FLEET_CONTEXT`), else the current one.
    public func context(named name: String?) throws(Failure) -> Context {
        guard let name = name ?? currentContext else { return Context() }
        guard let context = contexts[name] else {
            throw Failure(description: "no context \(name) (there are: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        return context
    }
}
