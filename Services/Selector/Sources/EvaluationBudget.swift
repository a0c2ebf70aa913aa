import FleetCore

/// What one resolve may spend: a deadline, and the task's cancellation (a draining service).
/// Evaluation checks it between slices, so no selector runs on after its caller has given up,
/// and SIGTERM drains within the budget even mid-request.
struct EvaluationBudget: Sendable {
    let deadline: ContinuousClock.Instant
    let milliseconds: Int

    init(milliseconds: Int) {
        self.milliseconds = milliseconds
        deadline = .now + .milliseconds(milliseconds)
    }

    func check() throws {
        try Task.checkCancellation()
        guard ContinuousClock.now < deadline else {
            throw ValidationError(
                "selector", .tooExpensive,
                "the selector did not resolve within its budget of \(milliseconds) ms; narrow it (fewer or simpler patterns, indexed fields)")
        }
    }
}

/// At most `width` expensive evaluations at a time in this process. The others wait (within
/// their budget) instead of taking every thread of the pool, so cheap selectors keep answering
/// while hostile ones queue.
actor EvaluationLane {
    private let width: Int
    private var running = 0

    init(width: Int) { self.width = width }

    /// Above this cost a run takes the lane; below it, it is over before the lane would matter.
    static let inlineCost = 2_000_000
    /// About how much a run does before it looks at its budget and lets other work in.
    static let slice = 1_000_000

    private func tryEnter() -> Bool {
        guard running < width else { return false }
        running += 1
        return true
    }

    func leave() { running -= 1 }

    /// Waits for a place in the lane, or throws when `budget` runs out first.
    nonisolated func enter(within budget: EvaluationBudget) async throws {
        while await !tryEnter() {
            try budget.check()
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
