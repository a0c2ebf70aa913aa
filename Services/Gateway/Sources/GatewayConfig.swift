import FleetMessaging
import FleetRuntime
import Foundation

/// The gateway's settings, from the environment (defaults match the local stack).
public struct GatewayConfig: Sendable {
    public var host: String
    public var port: Int
    /// Requests with a larger body are answered 413.
    public var bodyLimit: Int
    public var features: FeatureSet
    public var service: ServiceConfig
    /// How long the audit trail keeps an entry (`FLEET_AUDIT_RETENTION_DAYS`).
    public var auditRetentionDays: Int

    public init(service: ServiceConfig = ServiceConfig()) {
        let env = service.environment
        self.service = service
        host = env["FLEET_GATEWAY_HOST"] ?? "127.0.0.1"
        port = env["FLEET_GATEWAY_PORT"].flatMap(Int.init) ?? 8080
        bodyLimit = env["FLEET_GATEWAY_BODY_LIMIT"].flatMap(Int.init) ?? 8 << 20
        features = FeatureSet(disabled: env["FLEET_FEATURES_DISABLED"] ?? "")
        auditRetentionDays = env["FLEET_AUDIT_RETENTION_DAYS"].flatMap(Int.init) ?? 90
    }

    public var unknownDisabledFeatures: [String] { features.unknown }
}

/// The feature codes (docs/openapi.yaml (errors and shapes)): all enabled unless listed in FLEET_FEATURES_DISABLED.
public struct FeatureSet: Sendable, Hashable {
    public static let all = [
        "fleet_groups", "fleet_bulk_operations", "fleet_rolling_deployments",
        "fleet_scheduled_operations", "fleet_config_deployment",
    ]
    public private(set) var enabled: Set<String>

    /// Codes named in FLEET_FEATURES_DISABLED that are no feature (a typo would leave the feature on).
    public let unknown: [String]

    public init(disabled: String) {
        let off = Set(disabled.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        enabled = Set(Self.all).subtracting(off)
        unknown = off.subtracting(Self.all).sorted()
    }

    public func isEnabled(_ code: String) -> Bool { enabled.contains(code) }
}
