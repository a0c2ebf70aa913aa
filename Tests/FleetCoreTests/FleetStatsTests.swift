import PropertyBased
import Testing

@testable import FleetCore

@Suite("fleet-wide stats")
struct FleetStatsTests {
    /// Random allowed and refused moves of random operations, applied to the per-operation model:
    /// the gauges summed from the changes are always the open operations' queued and running hosts
    /// and how many are open, and the totals count every move once.
    @Test func gaugesAreTheOpenOperationsCountsAfterAnyMoves() async {
        let move = zip(Gen.int(in: 0...2), Gen.int(in: 0...7), Gen.int(in: 0...4), Gen.int(in: 0...9))
        await propertyCheck(count: 200, input: Gen.int(in: 0...6).array(of: 1...3), move.array(of: 0...60)) { sizes, moves in
            var stats: [String: Int] = [:]
            func apply(_ changes: [FleetStats.Change]) { for c in changes { stats[c.field, default: 0] += c.by } }
            var models = sizes.map { ProgressCounters(total: $0) }
            var statuses = sizes.map { Array(repeating: HostStatus.queued, count: $0) }
            for n in sizes { apply(FleetStats.created(hosts: n)) }
            for (o, h, t, r) in moves where o < sizes.count && h < sizes[o] {
                let to = HostStatus.allCases[t]
                let reason: HostReason? = r < HostReason.allCases.count ? HostReason.allCases[r] : nil
                let from = statuses[o][h]
                let wasOpen = models[o].queued + models[o].running > 0
                guard models[o].apply(from: from, to: to, reason: reason) else { continue }
                statuses[o][h] = to
                let open = models[o].queued + models[o].running > 0
                apply(
                    FleetStats.changes(
                        .init(
                            to: to, fromQueued: from == .queued ? 1 : 0, fromRunning: from == .running ? 1 : 0,
                            finished: wasOpen && !open ? models[o].aggregate(cancelled: false) : nil)))
            }
            #expect(stats[FleetStats.hostsQueued, default: 0] == models.map(\.queued).reduce(0, +))
            #expect(stats[FleetStats.hostsInFlight, default: 0] == models.map(\.running).reduce(0, +))
            #expect(stats[FleetStats.operationsRunning, default: 0] == models.filter { $0.queued + $0.running > 0 }.count)
            #expect(stats["operations_created_total"] == sizes.count && stats["hosts_targeted_total"] == sizes.reduce(0, +))
            let finished = AggregateStatus.allCases.map { stats[FleetStats.operationsTotal($0), default: 0] }.reduce(0, +)
            #expect(finished == models.filter { $0.queued + $0.running == 0 }.count, "each finished operation counted once")
            #expect(stats[FleetStats.hostsTotal(.running), default: 0] == stats["hosts_running", default: 0], "the deprecated name still written")
        }
    }

    @Test func aMoveOfNothingChangesNothing() {
        #expect(FleetStats.changes(.init(to: .succeeded, fromQueued: 0, fromRunning: 0, finished: nil)).isEmpty)
    }
}

@Suite("index cursors")
struct IndexCursorTests {
    @Test func itRoundTripsAndRefusesWhatIsNotOne() throws {
        let c = IndexCursor(score: 1_733_112_345_123, id: "op-2ao62yafcj4ed")
        #expect(IndexCursor(text: c.text) == c)
        #expect(IndexCursor(text: "12.web:1.example") == IndexCursor(score: 12, id: "web:1.example"), "the first dot ends the score")
        for bad in ["", "op-1", ".op-1", "12.", "-1.op", "1x.op", "12.a b", "99999999999999999999.op"] {
            #expect(IndexCursor(text: bad) == nil, "\(bad)")
        }
        #expect(throws: ValidationError.self) { try IndexCursor.optional(.int(3)) }
        #expect(try IndexCursor.optional(nil) == nil)
    }

    @Test func newestFirstIsLowerScoreOrSameScoreLowerID() {
        let c = IndexCursor(score: 100, id: "m")
        #expect(c.precedes(score: 99, id: "z") && c.precedes(score: 100, id: "a"))
        #expect(!c.precedes(score: 100, id: "m") && !c.precedes(score: 100, id: "n") && !c.precedes(score: 101, id: "a"))
    }
}
