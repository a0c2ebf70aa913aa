import Foundation
import Logging
import Testing

@testable import AgentService

/// Who an agent speaks for: a command for any other host is dead-lettered unrun by the shared
/// command loop (its claim would name a host the agent does not play).
struct CommandLoopTests {
    @Test func aSimulatedFleetServesOnlyItsOwnNumberedHosts() {
        let fleet = SimulatedFleet(settings: .init(prefix: "sim", count: 10), logger: Logger(label: "test"))
        #expect(fleet.serves("sim-0") && fleet.serves("sim-9"))
        for other in ["sim-10", "sim--1", "sim-x", "sim", "simx-1", "other-1", "sim-1 ", "-sim-1"] { #expect(!fleet.serves(other), "\(other)") }
        #expect(fleet.agentID == fleet.queue)
    }

    @Test func aHostAgentServesOnlyItsOwnHost() throws {
        let dir = NSTemporaryDirectory() + "fleet-loop-\(UInt64.random(in: 0...UInt64.max))"
        let agent = HostAgent(hostID: "web-1", dryRun: true, stateDirectory: dir, logger: Logger(label: "test"))
        #expect(agent.serves("web-1"))
        #expect(!agent.serves("web-2") && !agent.serves("web-1x"))
        #expect(agent.agentID == "web-1")
    }
}
