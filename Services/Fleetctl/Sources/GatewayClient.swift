import AsyncHTTPClient
import FleetCore
import Foundation
import NIOCore

/// fleetctl's HTTP client for the gateway's API.
public struct GatewayClient: Sendable {
    public let baseURL: String
    public let token: String?

    public struct Failure: Error, CustomStringConvertible {
        public let status: Int
        public let body: JSONValue
        /// `error 422 validation_failed: the request is invalid` plus one line per field.
        public var description: String {
            var lines = ["error \(status) \(body["error"]?.stringValue ?? ""): \(body["message"]?.stringValue ?? "")"]
            for d in body["details"]?.arrayValue ?? [] {
                lines.append("  \(d["field"]?.stringValue ?? "?"): \(d["message"]?.stringValue ?? "")")
            }
            if status == 401 { lines.append("  (set FLEET_TOKEN or pass --token-file)") }
            return lines.joined(separator: "\n")
        }
    }

    /// No retrying a refused connection for a minute: a CLI says at once that the gateway is not there.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(60)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(baseURL: String, token: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    /// Sends one request under `/api/v1/fleet`; a non-2xx answer throws `Failure`.
    public enum Method: String, Sendable { case GET, POST, PUT, DELETE }

    public func call(_ method: Method, _ path: String, _ body: JSONValue? = nil, idempotencyKey: String? = nil) async throws -> JSONValue {
        var request = HTTPClientRequest(url: baseURL + "/api/v1/fleet" + path)
        request.method = .init(rawValue: method.rawValue)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: JSONCoding.encode(body)))
        }
        let response = try await Self.http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let json = JSONCoding.decode(Array(bytes.readableBytesView)) ?? .null
        guard (200..<300).contains(Int(response.status.code)) else { throw Failure(status: Int(response.status.code), body: json) }
        return json
    }

    /// Reads `GET /events?<query>` (Server-Sent Events) and calls `onEvent` with each event's
    /// name until the stream ends. Throws when it cannot be opened (an older gateway, a refusal)
    /// or breaks: the caller falls back to polling.
    public func events(_ query: String, onEvent: @Sendable (String) async -> Void) async throws {
        var request = HTTPClientRequest(url: baseURL + "/api/v1/fleet/events?" + query)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await Self.http.execute(request, timeout: .hours(24))
        guard response.status.code == 200 else { throw Failure(status: Int(response.status.code), body: .null) }
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                if let line = block.split(separator: "\n").first(where: { $0.hasPrefix("event: ") }) { await onEvent(String(line.dropFirst(7))) }
            }
        }
    }

    /// GETs a path outside the API (`/metrics`, `/health`) as text.
    public func text(_ path: String) async throws -> String {
        let response = try await Self.http.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(30))
        return String(buffer: try await response.body.collect(upTo: 16 << 20))
    }

    /// Percent-encodes a path segment (ids can hold any character).
    public static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}
