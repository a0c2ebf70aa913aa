import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import ServiceLifecycle

/// Host results and finishes of bulk operations (on `fleet.events`) that belong to a rollout make
/// the controller look at that rollout: the failure budget is checked on every result, and the
/// next batch is decided the moment the current one is done.
public struct BulkEventsConsumer: Service {
    let driver: RolloutDriver
    var context: ServiceContext { driver.context }

    init(driver: RolloutDriver) { self.driver = driver }

    /// `bulk.*.hosts`, one per dispatcher write, not `bulk.*.host`, one per host: the controller
    /// needs to know that an operation moved, and a 10,000-host operation is then a few hundred
    /// messages into this quorum queue instead of 10,000.
    static let topology = Topology.eventsQueue(BusNames.rolloutEventsQueue, keys: ["bulk.*.hosts", "bulk.*.finished"])

    public func run() async throws {
        try await context.consume(BusNames.rolloutEventsQueue, topology: Self.topology, prefetch: 500) { await handle($0) }
    }

    func handle(_ delivery: Delivery) async -> RequestOutcome {
        let op: String
        do {
            let key = delivery.routingKey
            if key.hasSuffix(".finished") {
                op = try delivery.decode(BulkFinished.self).opID
            } else if key.hasSuffix(".hosts") {
                op = try delivery.decode(BulkHostsEnded.self).opID
            } else {
                // A queue declared by an earlier version keeps its `bulk.*.host` binding (a declare
                // adds bindings, it removes none): its events move rollouts on as before.
                op = try delivery.decode(BulkHostEnded.self).opID
            }
        } catch {
            return .deadLetter(reason: "\(error)")
        }
        do {
            // Most bulk operations are not a rollout's.
            if let id = try await driver.store.rollout(forOperation: op) { await driver.poke(id) }
            return .done
        } catch {
            return .unavailable(reason: "\(error)")
        }
    }
}

/// Looks at every rollout whose timer is due: the next-batch instant after a delay, the periodic
/// re-check of a batch in flight, an effect still owed. Timers are in Redis, so a restarted
/// controller (or another replica) picks up where a dead one stopped.
public struct RolloutTimers: Service {
    let driver: RolloutDriver
    let interval: Duration

    init(driver: RolloutDriver, interval: Duration = .milliseconds(50)) {
        self.driver = driver
        self.interval = interval
    }

    public func run() async throws {
        await everyTick(interval) { _ in
            do {
                let due = try await driver.store.due(nowMs: driver.context.clock.nowMs, limit: 200)
                await withDiscardingTaskGroup { group in
                    for id in due { group.addTask { await driver.poke(id) } }
                }
            } catch {
                driver.context.logger.warning("rollout timers unreadable", metadata: ["error": "\(error)"])
            }
        }
    }
}
