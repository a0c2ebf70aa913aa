/// Where a rolling deployment stands, and the rules that move it (docs/domain.md, "Rollouts"). The controller
/// stores this, asks `advance` what to do whenever something happened (a host result, a timer),
/// writes the new state with a compare-and-set, and only the writer that won performs the effects.
/// Every effect is safe to repeat (dispatching names hosts that go out at most once; skipping
/// queued hosts twice skips nothing more), so a controller that dies between winning and acting
/// repeats the effect on its next look.
public struct RolloutState: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable {
        /// Waiting until `nextAtMs` to send batch `batch + 1`.
        case delay
        /// Batch `batch` is out; waiting for all its hosts to be terminal.
        case batch
    }

    public var status: RolloutStatus
    /// The current batch, 0-based; -1 before the first.
    public var batch: Int
    public var phase: Phase
    /// When the next batch is due (ms since the epoch), during a delay that is not paused.
    public var nextAtMs: Int64?
    /// The delay left when it was paused.
    public var remainingMs: Int64?
    /// Whether the current batch's dispatch is known to have completed.
    public var dispatched: Bool
    public var haltedReason: String?
    /// Whether the bulk operation needs nothing more from the controller (false after a halt or a
    /// cancel until its queued hosts are skipped).
    public var closed: Bool

    /// A new rollout: its first batch is due at once.
    public init(createdAtMs: Int64) {
        status = .queued
        batch = -1
        phase = .delay
        nextAtMs = createdAtMs
        remainingMs = nil
        dispatched = true
        haltedReason = nil
        closed = true
    }

    /// What the controller must do after writing the new state.
    public enum Effect: Sendable, Hashable {
        /// Send the hosts of batch k (again, if the state says it may not have completed).
        case dispatch(batch: Int)
        /// Skip the operation's queued hosts with this reason (halted or cancelled).
        case skipQueued(HostReason)
        case batchStarted(Int)
        case finished(RolloutStatus)
    }

    /// What the controller observed: failed hosts so far, and whether every host of the current
    /// batch is terminal.
    public struct Observation: Sendable, Hashable {
        public var failed: Int
        public var batchDone: Bool
        public init(failed: Int, batchDone: Bool) {
            self.failed = failed
            self.batchDone = batchDone
        }
    }

    /// The next state and its effects, at `nowMs`.
    public func advance(nowMs: Int64, _ seen: Observation, plan: RolloutPlan, delayMs: Int64) -> (RolloutState, [Effect]) {
        var s = self
        if status.isTerminal {
            return closed ? (s, []) : (s, [.skipQueued(status == .cancelled ? .cancelled : .halted)])
        }
        if plan.shouldHalt(failed: seen.failed) {
            s.status = .failed
            s.haltedReason = "\(seen.failed) failed hosts exceeded the failure budget of \(plan.failureBudget)"
            s.nextAtMs = nil
            s.remainingMs = nil
            s.closed = false
            return (s, [.skipQueued(.halted), .finished(.failed)])
        }
        if status == .paused { return (s, []) }
        var effects: [Effect] = []
        if plan.batches.isEmpty {
            s.status = .succeeded
            return (s, [.finished(.succeeded)])
        }
        if s.phase == .batch {
            guard s.dispatched else { return (s, [.dispatch(batch: s.batch)]) }
            guard seen.batchDone else { return (s, []) }
            if s.batch == plan.batches.count - 1 {
                s.status = .succeeded
                return (s, [.finished(.succeeded)])
            }
            s.phase = .delay
            s.nextAtMs = nowMs + delayMs
        }
        if let due = s.nextAtMs, nowMs >= due {
            s.batch += 1
            s.phase = .batch
            s.nextAtMs = nil
            s.dispatched = false
            s.status = .running
            effects += [.dispatch(batch: s.batch), .batchStarted(s.batch)]
        }
        return (s, effects)
    }

    /// An operator's pause, resume or cancel (409 for any other transition). Pausing during a
    /// delay keeps what is left of it; resuming starts that remainder again.
    public func apply(_ action: RolloutAction, nowMs: Int64) throws(ConflictError) -> (RolloutState, [Effect]) {
        var s = self
        s.status = try action.apply(to: status)
        switch action {
        case .pause:
            if let due = nextAtMs {
                s.remainingMs = max(0, due - nowMs)
                s.nextAtMs = nil
            }
            return (s, [])
        case .resume:
            if s.batch < 0 { s.status = .queued }
            if let left = remainingMs {
                s.nextAtMs = nowMs + left
                s.remainingMs = nil
            }
            return (s, [])
        case .cancel:
            s.nextAtMs = nil
            s.remainingMs = nil
            s.closed = false
            return (s, [.skipQueued(.cancelled), .finished(.cancelled)])
        }
    }

    /// When the controller should look again without being told (ms since the epoch): the next
    /// batch instant during a delay, soon when an effect may still be owed, else a periodic
    /// re-check (the backstop for an event the broker lost). Nil: never again.
    public func wakeAtMs(nowMs: Int64, recheckMs: Int64) -> Int64? {
        if status.isTerminal { return closed ? nil : nowMs + 1_000 }
        if status == .paused { return nil }
        if phase == .delay, let due = nextAtMs { return due }
        if phase == .batch, !dispatched { return nowMs + 1_000 }
        return nowMs + recheckMs
    }
}
