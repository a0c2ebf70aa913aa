import FleetCore

/// A host's result on `fleet.from-agents` (routing key `result`).
public struct AgentResult: FleetMessage {
    public static let messageName = "agent.result"

    public enum Status: String, Codable, Sendable, Hashable {
        case succeeded, failed, skipped
    }

    public var opID: String
    public var hostID: String
    public var status: Status
    /// Why it failed (`exit_code` when absent) or was skipped (`unsupported`, the only skip an agent reports).
    public var reason: HostReason?
    public var exitCode: Int?
    public var stdout: String?
    public var stderr: String?
    public var truncated: Bool?
    public var startedAt: String?
    public var finishedAt: String?

    public init(
        opID: String, hostID: String, status: Status, reason: HostReason? = nil, exitCode: Int? = nil,
        stdout: String? = nil, stderr: String? = nil, truncated: Bool? = nil, startedAt: String? = nil, finishedAt: String? = nil
    ) {
        self.opID = opID
        self.hostID = hostID
        self.status = status
        self.reason = reason
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.truncated = truncated
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case opID = "op_id", hostID = "host_id", status, reason, exitCode = "exit_code", stdout, stderr, truncated
        case startedAt = "started_at", finishedAt = "finished_at"
    }

    /// The terminal status and reason it moves its host to; nil for a combination no agent may
    /// report (a skip other than `unsupported`, a failure with a skip reason).
    public var transition: (HostStatus, HostReason?)? {
        switch status {
        case .succeeded: return reason == nil ? (.succeeded, nil) : nil
        case .failed:
            let r = reason ?? .exitCode
            return r.status == .failed ? (.failed, r) : nil
        case .skipped: return reason == .unsupported ? (.skipped, .unsupported) : nil
        }
    }
}
