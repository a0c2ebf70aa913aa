@testable import FleetCore

extension RolloutState.Observation {
    /// `failed` failures (each counted) beside one success: what tests of the budget need.
    init(failed: Int, batchDone: Bool) {
        self.init(
            counters: ProgressCounters(total: failed + 1, queued: 0, running: 0, succeeded: 1, failed: failed, skipped: 0), reasons: [:],
            batchDone: batchDone)
    }
}

/// The state after the current batch's dispatch completed, as the controller records it.
func sent(_ s: RolloutState) -> RolloutState {
    var s = s
    s.dispatched = true
    return s
}
