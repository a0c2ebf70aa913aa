import FleetBus
import FleetContracts
import FleetMessaging
import Logging

/// Registration waits for the control plane: an agent started before the selector (a host booting
/// before the servers, a local stack starting everything at once) retries while the answer is
/// 503/504, with capped backoff, instead of exiting. Any other refusal is final.
public func registerWhenReachable(logger: Logger, _ register: () async throws -> Void) async throws {
    var delay = Duration.milliseconds(200)
    while true {
        do {
            return try await register()
        } catch let e as BusReplyError where e.reply.status == 503 || e.reply.status == 504 {
            logger.info("control plane not reachable yet; retrying", metadata: ["status": "\(e.reply.status)", "retry_in": "\(delay)"])
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}

/// Declares the agent's queue and bindings, retrying while the exchanges do not exist yet: the
/// services declare them, since an agent's broker user may not.
public func bindWhenDeclared(logger: Logger, _ bind: () async throws -> Void) async throws {
    var delay = Duration.milliseconds(200)
    while true {
        do {
            return try await bind()
        } catch let error as AMQPError where error.kind == .channelClosed(code: 404) {
            logger.info("the agent exchange does not exist yet; retrying", metadata: ["retry_in": "\(delay)"])
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
