/// Where a rolling deployment stands, and the rules that move it (docs/domain.md, "Rollouts"). The controller
/// stores this, asks `advance` what to do whenever something happened (a host result, a timer),
/// writes the new state with a compare-and-set, and only the writer that won performs the effects.
/// Every effect is safe to repeat (dispatching names hosts that go out at most once; skipping
/// queued hosts twice skips nothing more; a gate is a GET), so a controller that dies between
/// winning and acting repeats the effect on its next look.
///
/// After batch k is done within the budget, and unless it is the last: the canary's soak (k = 0),
/// then the HTTP gates that apply after k, then an operator's promote if one is needed, then the
/// batch delay, then batch k + 1.
public struct RolloutState: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable {
        /// Waiting until `nextAtMs` to send batch `batch + 1`.
        case delay
        /// Batch `batch` is out; waiting for all its hosts to be terminal.
        case batch
        /// The canary is done; soaking until `nextAtMs`.
        case soak
        /// The HTTP gates after batch `batch` are running; run them again at `nextAtMs` if no
        /// outcome was written by then (the controller running them died).
        case gates
        /// Waiting for an operator's promote.
        case approval
    }

    /// Why a rollout halted, as a code; `haltedReason` says it in words.
    public enum HaltCode: String, CaseIterable, Sendable, Hashable, Codable {
        case failureBudget = "failure_budget", unreachedBudget = "unreached_budget", gateFailed = "gate_failed", external
    }

    public var status: RolloutStatus
    /// The current batch, 0-based; -1 before the first.
    public var batch: Int
    public var phase: Phase
    /// When the phase's wait ends (ms since the epoch), unless paused.
    public var nextAtMs: Int64?
    /// The wait left when it was paused.
    public var remainingMs: Int64?
    /// Whether the current batch's dispatch is known to have completed.
    public var dispatched: Bool
    public var haltedReason: String?
    public var haltCode: HaltCode?
    /// Whether the bulk operation needs nothing more from the controller (false after a halt or a
    /// cancel until its queued hosts are skipped).
    public var closed: Bool
    /// Why it is paused when no operator paused it: `window_closed` (its maintenance window is
    /// closed; `nextAtMs` is then the next opening, and it goes on by itself there).
    public var pausedReason: String?
    public static let windowClosed = "window_closed"

    /// A new rollout: its first batch is due at once.
    public init(createdAtMs: Int64) {
        status = .queued
        batch = -1
        phase = .delay
        nextAtMs = createdAtMs
        remainingMs = nil
        dispatched = true
        haltedReason = nil
        haltCode = nil
        closed = true
        pausedReason = nil
    }

    /// The rollout's maintenance window as the controller read it at `nowMs`.
    public enum WindowView: Sendable, Hashable {
        case open
        /// Closed; the next opening (ms), nil when it never opens again or the window is gone.
        case closed(opensAtMs: Int64?)
    }

    /// What the controller must do after writing the new state.
    public enum Effect: Sendable, Hashable {
        /// Send the hosts of batch k (again, if the state says it may not have completed).
        case dispatch(batch: Int)
        /// Skip the operation's queued hosts with this reason (halted or cancelled).
        case skipQueued(HostReason)
        case batchStarted(Int)
        /// Run the HTTP gates after batch k, then report with `gatesPassed` or `gateFailed`.
        case runGates(afterBatch: Int)
        case finished(RolloutStatus)
    }

    /// What the controller observed: the operation's counters and its hosts' reasons, and whether
    /// every host of the current batch is terminal.
    public struct Observation: Sendable, Hashable {
        public var counters: ProgressCounters
        public var reasons: [HostReason: Int]
        public var batchDone: Bool

        public init(counters: ProgressCounters, reasons: [HostReason: Int], batchDone: Bool) {
            self.counters = counters
            self.reasons = reasons
            self.batchDone = batchDone
        }

        public func counted(_ plan: RolloutPlan) -> Int { plan.policy.counted(failed: counters.failed, reasons: reasons) }
        public var unreached: Int { reasons[.undeliverable] ?? 0 }
    }

    /// The status of a rollout that ran its last batch without halting: `succeeded` when no host
    /// failed and every skip was the approval rule's, `failed` when no host succeeded, `partial`
    /// otherwise. With no hosts at all it succeeded.
    public static func ending(_ c: ProgressCounters, reasons: [HostReason: Int]) -> RolloutStatus {
        if c.total == 0 { return .succeeded }
        if c.failed == 0, c.skipped == (reasons[.notApproved] ?? 0) { return .succeeded }
        return c.succeeded == 0 ? .failed : .partial
    }

    /// The next state and its effects, at `nowMs`. With a `window`, batches start only while it is
    /// open: closed, a rollout in its delay or a batch pauses (`pausedReason` `window_closed`, the
    /// delay's remainder kept, a batch in flight left to finish), and at the next opening it goes on.
    public func advance(nowMs: Int64, _ seen: Observation, plan: RolloutPlan, delayMs: Int64, window: WindowView? = nil) -> (RolloutState, [Effect]) {
        var s = self
        if status.isTerminal {
            return closed ? (s, []) : (s, [.skipQueued(status == .cancelled ? .cancelled : .halted)])
        }
        let counted = seen.counted(plan)
        if plan.shouldHalt(failed: counted) {
            return s.halted(.failureBudget, "\(counted) failed hosts exceeded the failure budget of \(plan.failureBudget)")
        }
        if plan.tooManyUnreached(seen.unreached), let budget = plan.unreachedBudget {
            return s.halted(.unreachedBudget, "\(seen.unreached) hosts were never reached, more than the \(budget) allowed")
        }
        if let window {
            switch (window, status == .paused && pausedReason == Self.windowClosed) {
            case (.closed(let opensAt), true):
                s.nextAtMs = opensAt
                return (s, [])
            case (.open, true):
                // The window opened: on where it stopped, the delay's remainder (if any) running again.
                s.pausedReason = nil
                s.status = s.activeStatus
                s.nextAtMs = s.remainingMs.map { nowMs + $0 }
                s.remainingMs = nil
            case (.closed(let opensAt), false) where status != .paused && (phase == .delay || phase == .batch):
                // No new batch outside the window; a batch in flight finishes (its hosts are out).
                s.remainingMs = phase == .delay ? max(0, (nextAtMs ?? nowMs) - nowMs) : nil
                s.status = .paused
                s.pausedReason = Self.windowClosed
                s.nextAtMs = opensAt
                return (s, [])
            default:
                break
            }
        }
        if s.status == .paused { return (s, []) }
        if plan.batches.isEmpty {
            s.status = .succeeded
            return (s, [.finished(.succeeded)])
        }
        var effects: [Effect] = []
        switch s.phase {
        case .batch:
            guard s.dispatched else { return (s, [.dispatch(batch: s.batch)]) }
            guard seen.batchDone else { return (s, []) }
            if s.batch == plan.batches.count - 1 {
                s.status = Self.ending(seen.counters, reasons: seen.reasons)
                return (s, [.finished(s.status)])
            }
            effects += s.enterCheckpoint(afterBatch: s.batch, plan: plan, nowMs: nowMs, delayMs: delayMs)
        case .soak:
            if let due = s.nextAtMs, nowMs >= due { effects += s.enterGates(plan: plan, nowMs: nowMs, delayMs: delayMs) }
        case .gates:
            if let due = s.nextAtMs, nowMs >= due {
                s.nextAtMs = nowMs + plan.gateRunMs(afterBatch: s.batch)
                effects.append(.runGates(afterBatch: s.batch))
            }
        case .approval, .delay:
            break
        }
        if s.phase == .delay, let due = s.nextAtMs, nowMs >= due {
            s.batch += 1
            s.phase = .batch
            s.nextAtMs = nil
            s.dispatched = false
            s.status = .running
            effects += [.dispatch(batch: s.batch), .batchStarted(s.batch)]
        }
        return (s, effects)
    }

    private func halted(_ code: HaltCode, _ reason: String) -> (RolloutState, [Effect]) {
        var s = self
        s.status = .failed
        s.haltCode = code
        s.haltedReason = reason
        s.pausedReason = nil
        s.nextAtMs = nil
        s.remainingMs = nil
        s.closed = false
        return (s, [.skipQueued(.halted), .finished(.failed)])
    }

    /// Batch k is done and is not the last: the soak, or straight on to the gates.
    private mutating func enterCheckpoint(afterBatch k: Int, plan: RolloutPlan, nowMs: Int64, delayMs: Int64) -> [Effect] {
        if plan.soaks(afterBatch: k), let canary = plan.canary {
            wait(.soak, ms: Int64(canary.soakSeconds) * 1000, nowMs: nowMs)
            return []
        }
        return enterGates(plan: plan, nowMs: nowMs, delayMs: delayMs)
    }

    private mutating func enterGates(plan: RolloutPlan, nowMs: Int64, delayMs: Int64) -> [Effect] {
        guard plan.httpGates(afterBatch: batch).isEmpty else {
            wait(.gates, ms: plan.gateRunMs(afterBatch: batch), nowMs: nowMs)
            return [.runGates(afterBatch: batch)]
        }
        enterApproval(plan: plan, nowMs: nowMs, delayMs: delayMs)
        return []
    }

    private mutating func enterApproval(plan: RolloutPlan, nowMs: Int64, delayMs: Int64) {
        if plan.needsApproval(afterBatch: batch) {
            wait(.approval, ms: nil, nowMs: nowMs)
        } else {
            wait(.delay, ms: delayMs, nowMs: nowMs)
        }
    }

    /// Enters `phase`, with its wait running (or, when paused, kept for the resume).
    private mutating func wait(_ phase: Phase, ms: Int64?, nowMs: Int64) {
        self.phase = phase
        if status == .paused {
            nextAtMs = nil
            remainingMs = ms
        } else {
            nextAtMs = ms.map { nowMs + $0 }
            remainingMs = nil
            status = activeStatus
        }
    }

    /// When the next batch is due: the end of a running delay; nil in any other wait.
    public var nextBatchAtMs: Int64? { phase == .delay ? nextAtMs : nil }

    /// The status a rollout that is not paused has in its phase.
    var activeStatus: RolloutStatus {
        switch phase {
        case .soak: .soaking
        case .approval: .awaitingApproval
        case .delay where batch < 0: .queued
        default: .running
        }
    }

    /// An operator's pause, resume, cancel or promote (409 for any other transition). Pausing
    /// during a wait keeps what is left of it; resuming starts that remainder again.
    public func apply(_ action: RolloutAction, nowMs: Int64, plan: RolloutPlan, delayMs: Int64) throws(ConflictError) -> (RolloutState, [Effect]) {
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
            s.status = s.activeStatus
            s.pausedReason = nil  // an operator's resume; a window still closed pauses it again
            if let left = remainingMs {
                s.nextAtMs = nowMs + left
                s.remainingMs = nil
            }
            return (s, [])
        case .cancel:
            s.pausedReason = nil
            s.nextAtMs = nil
            s.remainingMs = nil
            s.closed = false
            return (s, [.skipQueued(.cancelled), .finished(.cancelled)])
        case .promote:
            s.wait(.delay, ms: delayMs, nowMs: nowMs)
            return (s, [])
        }
    }

    /// An external halt (an alerting system, an operator): exactly as the budget halts, with the
    /// reason given. 409 once the rollout has ended.
    public func halt(reason: String) throws(ConflictError) -> (RolloutState, [Effect]) {
        guard !status.isTerminal else { throw ConflictError(code: "invalid_transition", "cannot halt a rollout that is \(status.rawValue)") }
        return halted(.external, reason)
    }

    /// Every HTTP gate after batch `k` answered 2xx: on to the promote or the delay. Nil when the
    /// rollout has moved on (an outcome written already, a halt, a cancel).
    public func gatesPassed(afterBatch k: Int, nowMs: Int64, plan: RolloutPlan, delayMs: Int64) -> RolloutState? {
        guard phase == .gates, batch == k, !status.isTerminal else { return nil }
        var s = self
        s.enterApproval(plan: plan, nowMs: nowMs, delayMs: delayMs)
        return s
    }

    /// A gate after batch `k` failed: the rollout halts (`gate_failed`). Nil when it has moved on.
    public func gateFailed(afterBatch k: Int, _ detail: String) -> (RolloutState, [Effect])? {
        guard phase == .gates, batch == k, !status.isTerminal else { return nil }
        return halted(.gateFailed, "gate_failed: \(detail)")
    }

    /// When the controller should look again without being told (ms since the epoch): the end of
    /// the phase's wait, soon when an effect may still be owed, else a periodic re-check (the
    /// backstop for an event the broker lost). Nil: never again.
    public func wakeAtMs(nowMs: Int64, recheckMs: Int64) -> Int64? {
        if status.isTerminal { return closed ? nil : nowMs + 1_000 }
        if status == .paused {
            // Paused by its window: the next opening (a window gone or never opening: a slow re-check).
            guard pausedReason == Self.windowClosed else { return nil }
            return nextAtMs ?? nowMs + 60_000
        }
        if phase != .batch, let due = nextAtMs { return due }
        if phase == .batch, !dispatched { return nowMs + 1_000 }
        return nowMs + recheckMs
    }
}
