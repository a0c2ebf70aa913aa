import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime
import Hummingbird

/// JSON responses, errors included (docs/openapi.yaml (errors and shapes)): `{"error", "message", "details"}`.
enum JSONResponse {
    /// Every answer of the gateway: a 401 names the scheme to authenticate with (RFC 9110 11.6.1),
    /// a 503 says when to come back.
    static func make(_ status: Int, _ body: JSONValue) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"fleet\"" }
        if status == 503 { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(body))))
    }

    /// What a 503's `Retry-After` says: the broker or Redis is back within seconds, or it is an outage.
    static let retryAfterSeconds = 5

    static func error(_ status: Int, _ code: String, _ message: String, feature: String? = nil) -> Response {
        make(status, ErrorBody(error: code, message: message, feature: feature).json)
    }

    /// A bus reply, translated mechanically: its status, and its body or its error.
    static func from(_ reply: BusReply) -> Response {
        make(reply.status, reply.error?.json ?? reply.body ?? .object([:]))
    }
}

/// Turns whatever a route or the router throws into a JSON error: the status of an HTTP error
/// (404 for an unknown route, 413 for a body over the limit), and a bare 500 for anything else.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            let status = Int(error.status.code)
            let code =
                switch status {
                case 404: "not_found"
                case 405: "method_not_allowed"
                case 413: "payload_too_large"
                case 400: "bad_request"
                default: "http_\(status)"
                }
            let message = status == 413 ? "the request body is larger than the gateway accepts" : error.status.reasonPhrase
            return JSONResponse.error(status, code, message)
        } catch {
            context.logger.error("unhandled error in route", metadata: ["error": "\(String(describing: type(of: error)))"])
            return JSONResponse.error(500, "internal_error", "internal error")
        }
    }
}
