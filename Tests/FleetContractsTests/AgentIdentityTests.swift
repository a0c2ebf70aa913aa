import FleetContracts
import FleetCore
import Foundation
import Testing

/// Who a broker user is, which hosts it may speak for, and the permission patterns enrollment
/// writes (the broker side is tested across RabbitMQ in AgentBrokerIdentityTests).
@Suite struct AgentIdentityTests {
    @Test func brokerUsersNameTheirIdentity() {
        #expect(AgentIdentity(brokerUser: "guest", serviceUser: "guest") == .service)
        #expect(AgentIdentity(brokerUser: "agent.web:1", serviceUser: "guest") == .host("web:1"))
        #expect(AgentIdentity(brokerUser: "agents.sim", serviceUser: "guest") == .simulatedFleet(prefix: "sim"))
        for stranger in [nil, "", "admin", "agent.", "agents.", "agent.bad id", "agent.\(String(repeating: "x", count: 129))", "agentsim"] {
            #expect(AgentIdentity(brokerUser: stranger, serviceUser: "guest") == nil, "\(String(describing: stranger))")
        }
        // The services' user wins over the agent naming, whatever it is called.
        #expect(AgentIdentity(brokerUser: "agent.x", serviceUser: "agent.x") == .service)
        for identity in [AgentIdentity.host("web.1"), .simulatedFleet(prefix: "sim")] {
            #expect(AgentIdentity(brokerUser: identity.brokerUser, serviceUser: "guest") == identity, "round trip")
        }
    }

    @Test func eachIdentitySpeaksOnlyForItsHosts() {
        #expect(AgentIdentity.service.speaks(for: "anything"))
        let host = AgentIdentity.host("web-1")
        #expect(host.speaks(for: "web-1"))
        for other in ["web-10", "web-", "Web-1", "web-1 ", ""] { #expect(!host.speaks(for: other), "\(other)") }
        let fleet = AgentIdentity.simulatedFleet(prefix: "sim")
        for own in ["sim-0", "sim-42", "sim-1999"] { #expect(fleet.speaks(for: own), "\(own)") }
        for other in ["sim", "sim-", "sim-x", "sim-1a", "sim-1-2", "simx-1", "other-1", "sim-١"] { #expect(!fleet.speaks(for: other), "\(other)") }
    }

    @Test func permissionsAllowTheOwnQueueAndTheAgentExchangeOnly() throws {
        let p = try #require(AgentIdentity.host("web.1").permissions)
        let q = BusNames.agentQueue("web.1")
        #expect(matches(p.configure, q) && !matches(p.configure, "fleet.agent.webx1") && !matches(p.configure, "fleet.agent.web.10"))
        #expect(!matches(p.configure, BusNames.agentExchange) && !matches(p.configure, BusNames.fromAgentsExchange))
        #expect(matches(p.write, q) && matches(p.write, BusNames.fromAgentsExchange))
        for forbidden in [BusNames.commandsExchange, BusNames.eventsExchange, BusNames.agentExchange, "amq.default", "fleet.agent.web.2"] {
            #expect(!matches(p.write, forbidden), "write \(forbidden)")
        }
        // Writable only to declare the queue with it as dead-letter exchange: no routing key passes.
        #expect(matches(p.write, BusNames.resultsExchange))
        let expiredTopic = try #require(p.topics.first { $0.exchange == BusNames.resultsExchange })
        for key in [BusNames.expiredKey, BusNames.resultKey, "#", "x"] { #expect(!matches(expiredTopic.write, key), "\(key)") }
        #expect(matches(p.read, q) && matches(p.read, BusNames.agentExchange))
        for forbidden in [BusNames.fromAgentsExchange, BusNames.resultsQueue, "fleet.svc.bulk-dispatcher", "fleet.agent.web.2"] {
            #expect(!matches(p.read, forbidden), "read \(forbidden)")
        }
        let bind = try #require(p.topics.first { $0.exchange == BusNames.agentExchange })
        #expect(matches(bind.read, "web.1") && !matches(bind.read, "#") && !matches(bind.read, "web.*") && !matches(bind.read, "webx1"))
        #expect(!matches(bind.write, "web.1"))
        let send = try #require(p.topics.first { $0.exchange == BusNames.fromAgentsExchange })
        for key in BusNames.agentRoutes { #expect(matches(send.write, key), "\(key)") }
        for key in ["bulk.create", "expired", "#", "hosts.upsert", "bulk.claimx"] { #expect(!matches(send.write, key), "\(key)") }
    }

    @Test func aSimulatedFleetBindsOnlyItsNumberedHosts() throws {
        let p = try #require(AgentIdentity.simulatedFleet(prefix: "sim").permissions)
        #expect(matches(p.configure, "fleet.agent.sim-*") && !matches(p.configure, "fleet.agent.sim") && !matches(p.configure, "fleet.agent.sim-1"))
        let bind = try #require(p.topics.first { $0.exchange == BusNames.agentExchange })
        #expect(matches(bind.read, "sim-0") && matches(bind.read, "sim-123"))
        for other in ["sim-*", "sim-#", "#", "sim-1.x", "other-1", "sim"] { #expect(!matches(bind.read, other), "\(other)") }
        #expect(AgentIdentity.service.permissions == nil)
    }

    /// RabbitMQ matches with PCRE; for these patterns (anchors, escapes, a class, alternation)
    /// Foundation's engine agrees.
    private func matches(_ pattern: String, _ s: String) -> Bool {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return false }
        return re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}
