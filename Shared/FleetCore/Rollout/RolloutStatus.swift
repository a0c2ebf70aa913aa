/// The status of a rolling deployment. Terminal: `succeeded` (every host succeeded or was skipped
/// by the approval rule), `partial` (it ran to the end with failures within the budget), `failed`
/// (it halted, or no host succeeded), `cancelled`.
public enum RolloutStatus: String, CaseIterable, Sendable, Hashable, Codable {
    case queued, running, paused, soaking
    case awaitingApproval = "awaiting_approval"
    case succeeded, partial, failed, cancelled

    public var isTerminal: Bool { [.succeeded, .partial, .failed, .cancelled].contains(self) }
}

/// What an operator may ask of a rollout (a halt, with its reason, is `RolloutState.halt`).
public enum RolloutAction: String, CaseIterable, Sendable, Hashable {
    case pause, resume, cancel, promote

    /// The status after the action, or a 409 `invalid_transition`: pause from queued, running or
    /// soaking; resume only from paused; promote only from awaiting_approval; cancel from any
    /// non-terminal status. (Resume and promote then take the status of the phase they enter.)
    public func apply(to status: RolloutStatus) throws(ConflictError) -> RolloutStatus {
        switch (self, status) {
        case (.pause, .queued), (.pause, .running), (.pause, .soaking): return .paused
        case (.resume, .paused): return .running
        case (.promote, .awaitingApproval): return .running
        case (.cancel, let s) where !s.isTerminal: return .cancelled
        default:
            throw ConflictError(code: "invalid_transition", "cannot \(rawValue) a rollout that is \(status.rawValue)")
        }
    }
}
