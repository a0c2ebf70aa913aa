import Foundation

/// Blocking work (a process wait, file I/O with fsync, a CPU-heavy loop) on an OS thread of its
/// own, awaited from async code.
///
/// Swift's cooperative pool has one thread per core: two blocking calls on a 2-core machine stall
/// every task in the process, timers included. What may block goes here instead, the way FleetBus
/// and FleetStore keep rabbitmq-c and hiredis on threads they own.
public enum OffPool {
    /// Runs `work` on a new thread named `name` and returns its result. The calling task only
    /// waits; cancelling it does not stop `work`, which must bound itself.
    public static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
            let thread = Thread { done.resume(returning: work()) }
            thread.name = name
            thread.start()
        }
    }

    /// The same for work that throws.
    public static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(name) { Result { try work() } }.get()
    }
}
