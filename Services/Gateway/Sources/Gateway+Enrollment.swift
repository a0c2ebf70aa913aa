import FleetContracts
import FleetCore
import Hummingbird

/// `POST /hosts/{id}/enroll` and `DELETE /hosts/{id}/enroll` (admin): a host's own broker user.
extension Gateway {
    func enroll(_ id: JSONValue) async throws -> Response {
        let (enrollment, identity) = try enrollable(id)
        do throws(EnrollmentError) {
            let enrolled = try await enrollment.enroll(identity)
            return JSONResponse.make(
                enrolled.created ? 201 : 200,
                [
                    "host_id": id, "broker_user": .string(enrolled.brokerUser), "amqp_url": .string(enrolled.amqpURL),
                    "rotated": .bool(!enrolled.created),
                ])
        } catch {
            return Self.response(error)
        }
    }

    func revoke(_ id: JSONValue) async throws -> Response {
        let (enrollment, identity) = try enrollable(id)
        do throws(EnrollmentError) {
            guard try await enrollment.revoke(identity) else {
                return JSONResponse.error(404, "not_found", "host '\(id.stringValue ?? "")' has no broker user")
            }
            return Response(status: .noContent)
        } catch {
            return Self.response(error)
        }
    }

    private func enrollable(_ id: JSONValue) throws -> (AgentEnrollment, AgentIdentity) {
        guard let host = id.stringValue, RecordID.isValid(host) else {
            throw Refusal(response: JSONResponse.from(.validation(ValidationError("id", .invalidValue, "id must be \(RecordID.rule)"))))
        }
        guard let enrollment else {
            throw Refusal(response: JSONResponse.error(503, "unavailable", "enrollment needs FLEET_RABBITMQ_MANAGEMENT_URL on the gateway"))
        }
        return (enrollment, .host(host))
    }

    private static func response(_ error: EnrollmentError) -> Response {
        switch error.kind {
        case .invalid: JSONResponse.error(422, "invalid", error.message)
        case .misconfigured, .unavailable: JSONResponse.error(503, "unavailable", error.message)
        }
    }
}
