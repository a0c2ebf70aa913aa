/// What an operation does on reaching a host that another running operation holds
/// (docs/domain.md, "Host locks").
public enum LockConflict: String, CaseIterable, Sendable, Hashable {
    /// The host stays `queued` (reason `locked`) until the holder releases it, bounded by the
    /// operation's delivery timeout.
    case wait
    /// The host is skipped at once with reason `locked`.
    case skip
}

/// Why a queued host has not been sent its command yet, shown as its `reason` while it waits.
public enum WaitReason: String, CaseIterable, Sendable, Hashable {
    /// Another operation holds the host's lock.
    case locked
    /// Its operation type's fleet-wide concurrency budget is full.
    case budget
}

/// How long an operation may hold a host: until the host could no longer be anything but
/// terminal (the delivery timeout, the run's timeout, and the result's travel time twice). The
/// holder releases it on the host's terminal status; the lease only bounds a holder that died
/// between the two, and the dispatcher's reaper frees such a lock much sooner.
public enum HostLease {
    public static func milliseconds(deliveryTimeoutSeconds: Int, timeoutSeconds: Int, graceMilliseconds: Int64) -> Int64 {
        Int64(deliveryTimeoutSeconds + timeoutSeconds) * 1000 + 2 * graceMilliseconds
    }
}
