import Foundation
import Logging

/// What every service reads from its environment, with defaults that match the local stack.
public struct ServiceConfig: Sendable {
    public var amqpURL: String
    public var redisURL: String
    public var logLevel: Logger.Level
    /// How many commands one replica handles at once.
    public var prefetch: UInt16
    /// How long a call to another service waits for its reply.
    public var requestTimeout: Duration
    public var environment: [String: String]

    public init(environment env: [String: String] = ProcessInfo.processInfo.environment) {
        amqpURL = env["FLEET_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
        redisURL = env["FLEET_REDIS_URL"] ?? "redis://127.0.0.1:6379/0"
        logLevel = env["FLEET_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        prefetch = env["FLEET_PREFETCH"].flatMap(UInt16.init) ?? 32
        requestTimeout = .milliseconds(env["FLEET_REQUEST_TIMEOUT_MS"].flatMap(Int.init) ?? 10_000)
        environment = env
    }
}
