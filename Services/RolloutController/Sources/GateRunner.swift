import FleetCore
import Foundation
import Synchronization

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
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = TimeInterval(gate.timeoutSeconds)
        configuration.timeoutIntervalForResource = TimeInterval(gate.timeoutSeconds)
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        let watcher = StatusWatcher()
        let session = URLSession(configuration: configuration, delegate: watcher, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: TimeInterval(gate.timeoutSeconds))
        request.httpMethod = "GET"
        let outcome = await watcher.outcome(of: session.dataTask(with: request))
        switch outcome {
        case .status(let code) where (200..<300).contains(code): return nil
        case .status(let code): return "GET \(text) answered \(code)"
        case .error(let message): return "GET \(text) failed: \(message)"
        }
    }
}

/// The first thing a gate's task reports: its status code, or the error that ended it.
enum GateOutcome: Sendable {
    case status(Int)
    case error(String)
}

/// Hears a data task's response head and cancels the task there (the body is never read), or
/// hears the error that ended it first. Sendable: its one stored property is a Mutex.
final class StatusWatcher: NSObject, URLSessionDataDelegate, Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<GateOutcome, Never>?, outcome: GateOutcome?)>((nil, nil))

    func outcome(of task: URLSessionDataTask) async -> GateOutcome {
        await withCheckedContinuation { continuation in
            let early = state.withLock { s -> GateOutcome? in
                if let o = s.outcome { return o }
                s.continuation = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) } else { task.resume() }
        }
    }

    private func finish(_ outcome: GateOutcome) {
        let continuation = state.withLock { s -> CheckedContinuation<GateOutcome, Never>? in
            guard s.outcome == nil else { return nil }
            s.outcome = outcome
            defer { s.continuation = nil }
            return s.continuation
        }
        continuation?.resume(returning: outcome)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        finish(.status((response as? HTTPURLResponse)?.statusCode ?? 0))
        completionHandler(.cancel)
    }

    /// A redirect is not followed: its 3xx is the answer, and fails the gate. Following it would
    /// let an allowed host send the controller to one FLEET_GATE_HOSTS does not list.
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        finish(.error(error?.localizedDescription ?? "no answer"))
    }
}
