import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One outbound HTTP request whose answer's status line is all that counts: a rollout's gate (a
/// GET) and a completion webhook (a POST). No credentials of anyone's travel (an ephemeral
/// session: no token, no cookie), a redirect is not followed (its 3xx is the answer), and the
/// body of the answer is never read, so a hostile endpoint cannot make a service hold a large one.
public enum HTTPProbe {
    public static func status(of request: URLRequest, timeoutSeconds: Int) async -> GateOutcome {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = TimeInterval(timeoutSeconds)
        configuration.timeoutIntervalForResource = TimeInterval(timeoutSeconds)
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        let watcher = StatusWatcher()
        let session = URLSession(configuration: configuration, delegate: watcher, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        return await watcher.outcome(of: session.dataTask(with: request))
    }
}

/// The first thing a gate's task reports: its status code, or the error that ended it.
public enum GateOutcome: Sendable {
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
