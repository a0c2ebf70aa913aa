import Foundation

/// A completion webhook (`notify: {"url": ...}` on an operation, a rollout or a schedule): the
/// record's owner POSTs the final progress to `url` when it finishes (a schedule: when each run
/// does), retrying with backoff a bounded number of times. The URL follows the gates' rules (http
/// or https, a host, no user or password) and, when `FLEET_WEBHOOK_HOSTS` is set, must name one of
/// its hosts. No caller's token or cookie is ever sent.
public struct Notify: Sendable, Hashable {
    public static let keys: Set<String> = ["url"]
    public var url: String

    public init(url: String) { self.url = url }

    public init(json: JSONValue, path base: String) throws(ValidationError) {
        var r = ObjectReader(json, path: base, allowed: Self.keys)
        let url = r.string("url", required: true, maxLength: RolloutGate.maxURLLength)
        if let url, !RolloutGate.isAcceptable(url) {
            r.errors.add(r.at("url"), .invalidValue, "url is an absolute http:// or https:// URL with a host and no user or password")
        }
        try r.throwIfAny()
        self.url = url!
    }

    /// Reads `notify` from a request object; nil when absent or null.
    static func read(_ value: JSONValue?, path base: String, into errors: inout FieldErrors) -> Notify? {
        guard let value, value != .null else { return nil }
        do throws(ValidationError) { return try Notify(json: value, path: base) } catch {
            errors.add(error)
            return nil
        }
    }

    public var json: JSONValue { ["url": .string(url)] }

    /// Whether the URL names one of `hosts` (nil: any host).
    public func isAllowed(by hosts: Set<String>?) -> Bool { Self.url(url, isAllowedBy: hosts) }

    /// The one check of an outbound URL against an allow-list (`FLEET_GATE_HOSTS`,
    /// `FLEET_WEBHOOK_HOSTS`): its host, lowercased, is listed; nil lists every host.
    static func url(_ url: String, isAllowedBy hosts: Set<String>?) -> Bool {
        guard let hosts else { return true }
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        return hosts.contains(host)
    }
}
