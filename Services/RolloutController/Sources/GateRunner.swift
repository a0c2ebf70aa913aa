import FleetCore
import FleetRuntime
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Runs a rollout's HTTP gates, in order: a GET of each URL, answered 2xx within its timeout, or
/// the rollout halts. The request carries no credentials of anyone's (no token, no cookie: an
/// ephemeral session), a redirect is not followed (its 3xx fails the gate), and the answer's body
/// is never read: the status line decides, so a hostile gate cannot make the controller hold a
/// large body.
struct GateRunner: Sendable {
    /// `FLEET_GATE_HOSTS`, checked again here: a rollout created before the list changed.
    let allowedHosts: Set<String>?

    /// Nil when every gate passed; else what the first failing gate did.
    func run(_ gates: [RolloutGate]) async -> String? {
        for gate in gates where gate.kind == .http {
            guard gate.isAllowed(by: allowedHosts) else { return "\(gate.url ?? "") is not on a host FLEET_GATE_HOSTS lists" }
            if let failure = await check(gate) { return failure }
        }
        return nil
    }

    func check(_ gate: RolloutGate) async -> String? {
        guard let text = gate.url, let url = URL(string: text) else { return "http gate has no usable url" }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: TimeInterval(gate.timeoutSeconds))
        request.httpMethod = "GET"
        switch await HTTPProbe.status(of: request, timeoutSeconds: gate.timeoutSeconds) {
        case .status(let code) where (200..<300).contains(code): return nil
        case .status(let code): return "GET \(text) answered \(code)"
        case .error(let message): return "GET \(text) failed: \(message)"
        }
    }
}
