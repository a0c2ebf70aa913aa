import FleetBus
import FleetMessaging
import Testing

@testable import GatewayService

/// The URL an enrolled agent is given names every node of the broker the gateway is told of, so
/// the agent moves to another node as the services do.
@Suite("agent enrollment URL")
struct AgentEnrollmentURLTests {
    @Test func anAgentIsGivenEveryNodeWithItsOwnCredentials() throws {
        let environment = [
            "FLEET_RABBITMQ_MANAGEMENT_URL": "http://admin:pw@127.0.0.1:15672",
            "FLEET_AGENT_AMQP_URL": "amqp://rabbit-1:5672/fleet,amqp://rabbit-2:5673/fleet,amqp://[::1]:5674/fleet",
        ]
        let enrollment = try #require(try AgentEnrollment(config: GatewayConfig(service: ServiceConfig(environment: environment))))
        let url = enrollment.amqpURL(user: "agent:web/1", password: "s3cret")
        #expect(
            url == "amqp://agent%3Aweb%2F1:s3cret@rabbit-1:5672/fleet,amqp://agent%3Aweb%2F1:s3cret@rabbit-2:5673/fleet,"
                + "amqp://agent%3Aweb%2F1:s3cret@[::1]:5674/fleet")
        let parsed = try AMQPConfig(url: url)
        #expect(parsed.nodes == [AMQPNode(host: "rabbit-1", port: 5672), AMQPNode(host: "rabbit-2", port: 5673), AMQPNode(host: "::1", port: 5674)])
        #expect(parsed.user == "agent:web/1" && parsed.password == "s3cret" && parsed.vhost == "fleet")
    }

    @Test func aBrokerURLThatIsNotOneIsAMisconfiguration() {
        let environment = ["FLEET_RABBITMQ_MANAGEMENT_URL": "http://admin:pw@127.0.0.1:15672", "FLEET_AGENT_AMQP_URL": "rabbit-1:5672"]
        #expect(throws: EnrollmentError.self) { try AgentEnrollment(config: GatewayConfig(service: ServiceConfig(environment: environment))) }
    }
}
