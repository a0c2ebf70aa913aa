/// Where one host stands in an operation (docs/domain.md, "Per-host status and progress").
public enum HostStatus: String, CaseIterable, Sendable, Hashable, Codable {
    case queued, running, succeeded, failed, skipped

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .skipped }
}

/// Why a host failed or was skipped.
public enum HostReason: String, CaseIterable, Sendable, Hashable, Codable {
    case exitCode = "exit_code", timedOut = "timed_out", lost, undeliverable, agentError = "agent_error"
    case cancelled, halted, notApproved = "not_approved", unsupported
    /// Another operation held the host and this one asked to skip such hosts (`on_conflict: skip`).
    case locked

    /// The status a reason belongs to.
    public var status: HostStatus {
        switch self {
        case .exitCode, .timedOut, .lost, .undeliverable, .agentError: .failed
        case .cancelled, .halted, .notApproved, .unsupported, .locked: .skipped
        }
    }
}

/// The per-host state machine: every allowed move in one place.
///
/// queued -> running            the agent claimed the command and starts it
/// queued -> skipped            cancelled, halted, not_approved, unsupported, locked (never ran)
/// queued -> failed             undeliverable (no agent took it in time), agent_error
/// running -> succeeded | failed    the result, or timed_out / lost
/// running -> skipped           unsupported (the agent cannot run this type)
/// Terminal statuses never move again, so a duplicate or late result changes nothing.
public enum HostStatusMachine {
    public static func allows(from: HostStatus, to: HostStatus, reason: HostReason?) -> Bool {
        if let reason, reason.status != to { return false }
        switch (from, to) {
        case (.queued, .running): return reason == nil
        case (.queued, .skipped): return reason != nil
        case (.queued, .failed): return reason == .undeliverable || reason == .agentError
        case (.running, .succeeded): return reason == nil
        case (.running, .failed): return reason != nil && reason != .undeliverable
        case (.running, .skipped): return reason == .unsupported
        default: return false
        }
    }
}
