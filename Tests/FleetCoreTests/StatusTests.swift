import PropertyBased
import Testing

@testable import FleetCore

@Suite("per-host status machine and progress")
struct StatusTests {
    @Test func allowedMovesAreExactlyThese() {
        let allowed: Set<String> = [
            "queued>running", "queued>skipped:cancelled", "queued>skipped:halted", "queued>skipped:not_approved",
            "queued>skipped:unsupported", "queued>skipped:locked", "queued>failed:undeliverable", "queued>failed:agent_error", "running>succeeded",
            "running>failed:exit_code", "running>failed:timed_out", "running>failed:lost", "running>failed:agent_error",
            "running>skipped:unsupported",
        ]
        var actual = Set<String>()
        for from in HostStatus.allCases {
            for to in HostStatus.allCases {
                for reason in [nil] + HostReason.allCases.map(Optional.some) where HostStatusMachine.allows(from: from, to: to, reason: reason) {
                    actual.insert("\(from.rawValue)>\(to.rawValue)" + (reason.map { ":\($0.rawValue)" } ?? ""))
                }
            }
        }
        #expect(actual == allowed)
    }

    @Test(arguments: [(30, 2, 0, 47, 68.1), (0, 0, 0, 0, 0.0), (1, 0, 0, 3, 33.3), (2, 0, 0, 3, 66.7), (1, 1, 1, 3, 100.0), (0, 0, 1, 8, 12.5)])
    func percentCompleteRoundsToOneDecimal(succeeded: Int, failed: Int, skipped: Int, total: Int, expected: Double) {
        let p = ProgressCounters(
            total: total, queued: total - succeeded - failed - skipped, running: 0,
            succeeded: succeeded, failed: failed, skipped: skipped)
        #expect(p.percentComplete == expected)
    }

    @Test(
        arguments: [
            ((5, 0, 0, 0, 0), false, AggregateStatus.queued), ((4, 1, 0, 0, 0), false, .running), ((0, 1, 4, 0, 0), false, .running),
            ((0, 0, 5, 0, 0), false, .succeeded), ((0, 0, 0, 5, 0), false, .failed), ((0, 0, 0, 0, 5), false, .failed),
            ((0, 0, 3, 2, 0), false, .partial), ((0, 0, 4, 0, 1), false, .partial), ((3, 0, 2, 0, 0), true, .cancelled),
        ] as [((Int, Int, Int, Int, Int), Bool, AggregateStatus)])
    func aggregateStatus(counts: (Int, Int, Int, Int, Int), cancelled: Bool, expected: AggregateStatus) {
        let (q, r, s, f, k) = counts
        let p = ProgressCounters(total: q + r + s + f + k, queued: q, running: r, succeeded: s, failed: f, skipped: k)
        #expect(p.aggregate(cancelled: cancelled) == expected)
    }

    @Test func emptyOperationIsSucceededAtZeroPercent() {
        #expect(ProgressCounters(total: 0).aggregate(cancelled: false) == .succeeded)
        #expect(ProgressCounters(total: 0).percentComplete == 0.0)
    }

    /// Any sequence of attempted moves, duplicates and late results included: the counters equal a
    /// tally of the per-host statuses and add up to total, and terminal hosts never move again.
    @Test func countersAlwaysAddUpToTotal() async {
        let move = zip(Gen.int(in: 0...19), Gen.int(in: 0...4), Gen.int(in: 0...9))
        await propertyCheck(count: 400, input: Gen.int(in: 0...20), move.array(of: 0...120)) { total, moves in
            var statuses = Array(repeating: HostStatus.queued, count: total)
            var counters = ProgressCounters(total: total)
            for (h, t, r) in moves where h < total {
                let to = HostStatus.allCases[t]
                let reason: HostReason? = r < HostReason.allCases.count ? HostReason.allCases[r] : nil
                let from = statuses[h]
                let applied = counters.apply(from: from, to: to, reason: reason)
                #expect(applied == HostStatusMachine.allows(from: from, to: to, reason: reason))
                if applied {
                    #expect(!from.isTerminal)
                    statuses[h] = to
                }
            }
            for s in HostStatus.allCases { #expect(counters[s] == statuses.filter { $0 == s }.count) }
            #expect(counters.queued + counters.running + counters.terminal == total)
        }
    }
}
