import Testing

@testable import FleetBus

/// Who sent a delivery: its broker-checked `user_id`, or, on a copy a service router published
/// again, the sender that copy records (`x-fleet-sender`), believed only from the services' user.
@Suite struct SenderTests {
    private func delivery(userID: String?, recorded: String? = nil) -> Delivery {
        var props = MessageProperties(userId: userID)
        if let recorded { props.headers[RequestRouter.senderHeader] = .string(recorded) }
        return Delivery(
            exchange: "fleet.from-agents", routingKey: "bulk.claim", body: [], properties: props, queue: "q", redelivered: false,
            deliveryTag: 1, generation: 0, connection: nil)
    }

    @Test func theUserIDNamesTheSender() {
        #expect(delivery(userID: "agent.web-1").sender(serviceUser: "guest") == "agent.web-1")
        #expect(delivery(userID: "guest").sender(serviceUser: "guest") == "guest")
        #expect(delivery(userID: nil).sender(serviceUser: "guest") == nil, "nobody vouches for a message without user_id")
    }

    @Test func aRecordedSenderIsBelievedOnlyFromTheServices() {
        #expect(delivery(userID: "guest", recorded: "agent.web-1").sender(serviceUser: "guest") == "agent.web-1")
        #expect(delivery(userID: "guest", recorded: "").sender(serviceUser: "guest") == nil, "a copy of an anonymous message stays anonymous")
        // An agent cannot name a sender for itself: its own user_id wins.
        #expect(delivery(userID: "agent.web-1", recorded: "guest").sender(serviceUser: "guest") == "agent.web-1")
    }
}
