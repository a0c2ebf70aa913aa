import Foundation

/// A check between batches (docs/domain.md, "Rollouts"). An HTTP gate GETs its URL: a 2xx answer
/// lets the rollout go on; any other answer, or none within its timeout, halts it (`gate_failed`).
/// An approval gate waits for an operator's promote. `after: canary` runs once, after the canary
/// batch; `every_batch` after each batch but the last.
public struct RolloutGate: Sendable, Hashable, Codable {
    public enum Kind: String, CaseIterable, Sendable, Hashable, Codable { case http, approval }
    public enum After: String, CaseIterable, Sendable, Hashable, Codable {
        case canary
        case everyBatch = "every_batch"
    }
    public static let keys: Set<String> = ["type", "url", "timeout_seconds", "after"]
    public static let maxURLLength = 2048

    public var kind: Kind
    public var url: String?
    public var timeoutSeconds: Int
    public var after: After

    enum CodingKeys: String, CodingKey { case kind = "type", url, timeoutSeconds = "timeout_seconds", after }

    public init(kind: Kind, url: String? = nil, timeoutSeconds: Int = 10, after: After) {
        self.kind = kind
        self.url = url
        self.timeoutSeconds = timeoutSeconds
        self.after = after
    }

    public init(json: JSONValue, path base: String) throws(ValidationError) {
        var r = ObjectReader(json, path: base, allowed: Self.keys)
        let kind = r.choice("type", default: Kind?.none)
        let after = r.choice("after", default: After?.none)
        var url: String?
        var timeout: Int64? = 10
        if kind == .http {
            url = r.string("url", required: true, maxLength: Self.maxURLLength)
            if let u = url, !Self.isAcceptable(u) {
                r.errors.add(r.at("url"), .invalidValue, "url is an absolute http:// or https:// URL with a host and no user or password")
            }
            timeout = r.int("timeout_seconds", in: 1...60, default: 10)
        } else if kind == .approval {
            for key in ["url", "timeout_seconds"] where r.object[key] != nil {
                r.errors.add(r.at(key), .invalidValue, "an approval gate has no \(key)")
            }
        }
        try r.throwIfAny()
        self.init(kind: kind!, url: url, timeoutSeconds: Int(timeout ?? 10), after: after!)
    }

    /// A gate URL: http or https, a host name or IPv4 address, an optional port, path and query,
    /// all in plain ASCII (anything else percent-encoded), and no user or password (they would
    /// show in every record and log). docs/openapi.yaml states this very pattern.
    public static let urlPattern =
        #"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$"#

    static func isAcceptable(_ s: String) -> Bool {
        // Matched scalar by scalar, as JSON Schema's patterns match code points.
        guard let regex = try? Regex(urlPattern).matchingSemantics(.unicodeScalar) else { return false }
        return s.wholeMatch(of: regex) != nil
    }

    /// Whether the gate's URL addresses one of `hosts` (nil: any host is allowed); an approval
    /// gate always is.
    public func isAllowed(by hosts: Set<String>?) -> Bool {
        guard kind == .http else { return true }  // an approval gate makes no request
        return Notify.url(url ?? "", isAllowedBy: hosts)
    }

    /// Whether this gate runs after batch `k` (0-based) of a rollout with `batches` batches.
    public func applies(afterBatch k: Int, batches: Int, hasCanary: Bool) -> Bool {
        guard k < batches - 1 else { return false }  // nothing left to protect after the last
        switch after {
        case .canary: return hasCanary && k == 0
        case .everyBatch: return true
        }
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["type": .string(kind.rawValue), "after": .string(after.rawValue)]
        if kind == .http {
            o["url"] = url.map { .string($0) } ?? .null
            o["timeout_seconds"] = .int(Int64(timeoutSeconds))
        }
        return .object(o)
    }
}
