import FleetContracts
import FleetCore
import FleetStore
import Foundation

/// Reads the rollout controller's records (it alone writes them).
public struct RolloutRecords: Sendable {
    public let redis: RedisClient

    public init(_ redis: RedisClient) { self.redis = redis }

    /// The rollout's state as the controller last wrote it; nil if no such rollout.
    public func state(_ id: String) async throws -> RolloutState? {
        guard let text = try await redis.send("HGET", RedisKeys.rollingRecord(id), "state").string else { return nil }
        return try? JSONDecoder().decode(RolloutState.self, from: Data(text.utf8))
    }

    /// The rollout's status; nil if no such rollout.
    public func status(_ id: String) async throws -> RolloutStatus? { try await state(id)?.status }
}
