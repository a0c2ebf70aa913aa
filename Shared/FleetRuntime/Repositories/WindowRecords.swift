import FleetContracts
import FleetCore
import FleetStore
import Foundation

/// Reads the maintenance windows (owned and written by the scheduler; the rollout controller only
/// reads them, at each look at a rollout that names one).
public enum WindowRecords {
    /// The named window; nil when there is none (deleted, or never defined).
    public static func load(_ redis: RedisClient, _ name: String) async throws -> MaintenanceWindow? {
        guard let text = try await redis.send("HGET", RedisKeys.windows, name).string, let json = JSONCoding.decode(Array(text.utf8)) else {
            return nil
        }
        return try? MaintenanceWindow(json: json)
    }

    /// Every window, by name.
    public static func all(_ redis: RedisClient) async throws -> [MaintenanceWindow] {
        let pairs = try await redis.send("HGETALL", RedisKeys.windows).dictionary ?? [:]
        return pairs.values.compactMap { value in
            value.string.flatMap { JSONCoding.decode(Array($0.utf8)) }.flatMap { try? MaintenanceWindow(json: $0) }
        }.sorted { $0.name < $1.name }
    }

    /// The window as a rollout's state machine sees it at `nowMs`: a window that is gone never opens.
    public static func view(_ window: MaintenanceWindow?, nowMs: Int64) -> RolloutState.WindowView {
        guard let window else { return .closed(opensAtMs: nil) }
        switch window.state(at: Date(timeIntervalSince1970: Double(nowMs) / 1000)) {
        case .open: return .open
        case .closed(let opensAt): return .closed(opensAtMs: opensAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) })
        }
    }
}
