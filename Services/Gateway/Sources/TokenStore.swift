import Crypto
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// What a token may do; each scope includes the ones before it.
public enum Scope: String, CaseIterable, Sendable, Comparable {
    case read, operate, admin

    public static func < (a: Scope, b: Scope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// API tokens. Only a SHA-256 of each token is stored (`fleet:tokens`, owned by the gateway), so
/// a copy of Redis grants nothing; tokens are 256 random bits, which makes a fast hash enough.
public struct TokenStore: Sendable {
    let redis: RedisClient
    let clock: WallClock

    public init(redis: RedisClient, clock: WallClock = .system) {
        self.redis = redis
        self.clock = clock
    }

    /// Creates a token and returns it: the only time it is ever shown.
    public func create(scope: Scope, name: String) async throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let token =
            "fe_"
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let record: JSONValue = [
            "scope": .string(scope.rawValue), "name": .string(name),
            "created_at": .string(ISO8601DateFormatter().string(from: clock.now)),
        ]
        _ = try await redis.send("HSET", RedisKeys.tokens, Self.digest(token), String(decoding: JSONCoding.encode(record), as: UTF8.self))
        return token
    }

    /// The scope of a valid token, or nil.
    public func scope(of token: String) async throws -> Scope? { try await identity(of: token)?.scope }

    /// A valid token's scope, id (what `list-tokens` shows) and name; nil for no such token.
    public func identity(of token: String) async throws -> (scope: Scope, id: String, name: String)? {
        let digest = Self.digest(token)
        guard let text = try await redis.send("HGET", RedisKeys.tokens, digest).string, let json = JSONCoding.decode(Array(text.utf8)),
            let scope = json["scope"]?.stringValue.flatMap(Scope.init(rawValue:))
        else { return nil }
        return (scope, String(digest.prefix(12)), json["name"]?.stringValue ?? "")
    }

    /// A stored token: its name, scope, creation time, and the first 12 hex digits of its digest
    /// (enough to tell tokens apart and to revoke one; the token itself is never stored).
    public struct Entry: Sendable, Hashable {
        public let id: String
        public let name: String
        public let scope: String
        public let createdAt: String
    }

    /// Every token, by name then id.
    public func list() async throws -> [Entry] {
        let all = try await redis.send("HGETALL", RedisKeys.tokens).dictionary ?? [:]
        return all.compactMap { digest, value -> Entry? in
            guard let text = value.string, let json = JSONCoding.decode(Array(text.utf8)) else { return nil }
            return Entry(
                id: String(digest.prefix(12)), name: json["name"]?.stringValue ?? "", scope: json["scope"]?.stringValue ?? "",
                createdAt: json["created_at"]?.stringValue ?? "")
        }.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// Revokes the tokens whose id (digest prefix, at least 8 hex digits) or name is `key`;
    /// returns how many. The revocation holds from the gateway's next request.
    public func revoke(_ key: String) async throws -> Int {
        let all = try await redis.send("HGETALL", RedisKeys.tokens).dictionary ?? [:]
        let byID = key.count >= 8 ? all.keys.filter { $0.hasPrefix(key.lowercased()) } : []
        let byName = all.compactMap { digest, value in
            value.string.flatMap { JSONCoding.decode(Array($0.utf8)) }?["name"]?.stringValue == key ? digest : nil
        }
        let doomed = Set(byID + byName)
        guard !doomed.isEmpty else { return 0 }
        return Int(try await redis.send(RedisCommand(["HDEL", RedisKeys.tokens] + doomed.sorted())).int ?? 0)
    }

    /// SHA-256 of the token in lower-case hex. Spelled by table: one `String(format:)` per byte
    /// was 24 % of the gateway's time under wrk on the progress route (every request hashes its
    /// token twice: the scope check and the access log's token id).
    static func digest(_ token: String) -> String {
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(token.utf8)) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
