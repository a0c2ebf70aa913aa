import FleetBus
import Foundation
import Logging

/// What every service reads from its environment, with defaults that match the local stack.
public struct ServiceConfig: Sendable {
    public var amqpURL: String
    public var redisURL: String
    public var logLevel: Logger.Level
    /// `FLEET_LOG_FORMAT`: `text` (the default) or `json`, a line per record for log shippers.
    public var logFormat: LogFormat
    /// How many commands one replica handles at once.
    public var prefetch: UInt16
    /// How long a call to another service waits for its reply.
    public var requestTimeout: Duration
    public var environment: [String: String]
    /// How long a finished operation, rollout or schedule run is kept (`FLEET_RETENTION_SECONDS`,
    /// default 30 days, as SSM keeps command history).
    public var retentionSeconds: Int
    /// How often the dispatcher looks for hosts nothing would move on (`FLEET_RECONCILE_INTERVAL_MS`).
    public var reconcileInterval: Duration
    /// How long a host an agent claimed stays running without the agent renewing its claim
    /// (`FLEET_AGENT_LEASE_MS`): past it, the host is failed `lost`.
    public var agentLease: Duration
    /// The hosts a rollout's HTTP gates may address (`FLEET_GATE_HOSTS`, comma-separated, names
    /// compared lowercased); nil: any. A gate is a GET the controller makes for whoever may create
    /// a rollout, so a deployment that keeps its alerting systems on known hosts lists them.
    public var gateHosts: Set<String>?
    /// The hosts completion webhooks may address (`FLEET_WEBHOOK_HOSTS`, as `FLEET_GATE_HOSTS`);
    /// nil: any.
    public var webhookHosts: Set<String>?

    public init(environment env: [String: String] = ProcessInfo.processInfo.environment) {
        amqpURL = Self.fileContents(env["FLEET_AMQP_URL_FILE"]) ?? env["FLEET_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
        redisURL = env["FLEET_REDIS_URL"] ?? "redis://127.0.0.1:6379/0"
        logLevel = env["FLEET_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        logFormat = env["FLEET_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:)) ?? .text
        prefetch = env["FLEET_PREFETCH"].flatMap(UInt16.init) ?? 32
        requestTimeout = .milliseconds(env["FLEET_REQUEST_TIMEOUT_MS"].flatMap(Int.init) ?? 10_000)
        retentionSeconds = env["FLEET_RETENTION_SECONDS"].flatMap(Int.init) ?? 30 * 86_400
        reconcileInterval = .milliseconds(env["FLEET_RECONCILE_INTERVAL_MS"].flatMap(Int.init) ?? 10_000)
        agentLease = .milliseconds(env["FLEET_AGENT_LEASE_MS"].flatMap(Int.init) ?? 60_000)
        gateHosts = env["FLEET_GATE_HOSTS"].map(Self.hostList)
        webhookHosts = env["FLEET_WEBHOOK_HOSTS"].map(Self.hostList)
        environment = env
    }

    /// How long an agent told to stop (SIGTERM) lets the commands it holds finish before it
    /// reports them failed `agent_error` and exits (`FLEET_AGENT_STOP_GRACE_MS`, default 30 s:
    /// inside systemd's default stop timeout of 90 s). Read from `environment`: a stored property
    /// here made every debug build of the services crash at their first connect (Swift 6.3.1).
    public var agentStopGrace: Duration { .milliseconds(environment["FLEET_AGENT_STOP_GRACE_MS"].flatMap(Int.init) ?? 30_000) }

    static func hostList(_ text: String) -> Set<String> {
        Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
    }
}

/// A setting that cannot be used: the process stops at start with the variable named, rather
/// than running on a default nobody asked for.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let variable: String
    public let message: String

    public var description: String { "\(variable): \(message)" }
}

extension ServiceConfig {
    /// Every integer setting of every process, and the values it accepts (README, "Settings").
    public static let integerSettings: [String: ClosedRange<Int>] = [
        "FLEET_PREFETCH": 1...65_535,
        "FLEET_REQUEST_TIMEOUT_MS": 1...3_600_000,
        "FLEET_METRICS_PORT": 0...65_535,
        "FLEET_GATEWAY_PORT": 1...65_535,
        "FLEET_GATEWAY_BODY_LIMIT": 1...(1 << 30),
        "FLEET_RESULT_GRACE_MS": 0...3_600_000,
        "FLEET_HOST_CHANGES_MAXLEN": 1...100_000_000,
        "FLEET_SELECTOR_BUDGET_MS": 1...600_000,
        "FLEET_RETENTION_SECONDS": 1...(10 * 365 * 86_400),
        "FLEET_RECONCILE_INTERVAL_MS": 100...3_600_000,
        "FLEET_AGENT_LEASE_MS": 300...3_600_000,
        "FLEET_AGENT_STOP_GRACE_MS": 0...3_600_000,
        "FLEET_AUDIT_RETENTION_DAYS": 1...36_500,
    ]

    /// Checks every `FLEET_*` setting present in `env`: integers in range, a known log level,
    /// URLs of the right scheme.
    public static func check(_ env: [String: String]) throws(ConfigError) {
        for (name, range) in integerSettings.sorted(by: { $0.key < $1.key }) {
            guard let text = env[name] else { continue }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw ConfigError(variable: name, message: "'\(text)' is not an integer from \(range.lowerBound) to \(range.upperBound)")
            }
        }
        if let level = env["FLEET_LOG_LEVEL"], Logger.Level(rawValue: level) == nil {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigError(variable: "FLEET_LOG_LEVEL", message: "'\(level)' is not one of \(levels)")
        }
        if let format = env["FLEET_LOG_FORMAT"], LogFormat(rawValue: format) == nil {
            throw ConfigError(variable: "FLEET_LOG_FORMAT", message: "'\(format)' is not one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let path = env["FLEET_AMQP_URL_FILE"] {
            guard let url = fileContents(path) else { throw ConfigError(variable: "FLEET_AMQP_URL_FILE", message: "'\(path)' cannot be read") }
            do throws(AMQPError) { _ = try AMQPConfig(url: url) } catch {
                throw ConfigError(variable: "FLEET_AMQP_URL_FILE", message: "\(path): \(error.message.replacingOccurrences(of: url, with: "<the URL>"))")
            }
        } else if let url = env["FLEET_AMQP_URL"] {
            do throws(AMQPError) { _ = try AMQPConfig(url: url) } catch { throw ConfigError(variable: "FLEET_AMQP_URL", message: error.message) }
        }
        for name in ["FLEET_GATE_HOSTS", "FLEET_WEBHOOK_HOSTS"] {
            if let hosts = env[name], hostList(hosts).isEmpty || hostList(hosts).contains(where: { $0.contains(" ") || $0.contains("/") }) {
                throw ConfigError(variable: name, message: "'\(hosts)' is not a comma-separated list of host names")
            }
        }
        // Read in full by FleetStore's RedisConfig (a module an agent does not link): the scheme here.
        if let url = env["FLEET_REDIS_URL"], URLComponents(string: url)?.scheme != "redis", !url.hasPrefix("redis+cluster://") {
            throw ConfigError(variable: "FLEET_REDIS_URL", message: "'\(Self.withoutPassword(url))' is not a redis:// or redis+cluster:// URL")
        }
    }

    /// A URL as an error may show it: whatever stands between `:` and `@` after the scheme (a
    /// password) replaced by `***`. By hand, since a URL that failed its check may not parse.
    static func withoutPassword(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        let start = url.range(of: "://").map(\.upperBound) ?? url.startIndex
        guard start < at, let colon = url[start..<at].firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }

    /// The first line of the file at `path`, trimmed: how an agent reads its broker URL, which holds
    /// its password and so never goes on a command line or into a long-lived environment.
    static func fileContents(_ path: String?) -> String? {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let url = text.trimmingCharacters(in: .whitespaces)
        return url.isEmpty ? nil : url
    }

    /// Checks the settings, or ends the process with the variable named and status 78 (EX_CONFIG).
    public static func checkedOrExit(_ env: [String: String] = ProcessInfo.processInfo.environment, process: String) {
        do throws(ConfigError) { try check(env) } catch {
            FileHandle.standardError.write(Data("\(process): bad setting \(error)\n".utf8))
            exit(78)
        }
    }
}
