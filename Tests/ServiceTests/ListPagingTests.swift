import FleetContracts
import FleetCore
import FleetMessaging
import FleetTestSupport
import Foundation
import Testing

/// Every list pages with a cursor to its end, each record once, and filters on status.
@Suite("list paging over the bus")
struct ListPagingTests {
    /// Follows `next_cursor` from the first page to the last (at most `maxPages`); every record's
    /// id in the order served.
    static func walk(
        _ bus: BusClient, _ route: String, _ body: [String: JSONValue], list key: String, id: String = "id", maxPages: Int = 200
    ) async throws -> [String] {
        var ids: [String] = []
        var query = body
        for _ in 0..<maxPages {
            let reply = await bus.call(route, .object(query))
            #expect(reply.status == 200, "\(reply)")
            let page = try #require(reply.body)
            let rows = page[key]?.arrayValue ?? []
            #expect(rows.count <= (query["limit"]?.intValue ?? 1000), "no page is longer than its limit")
            ids += rows.compactMap { $0[id].map { $0.stringValue ?? "\($0)" } }
            guard let next = page["next_cursor"], next != .null else { return ids }
            query["cursor"] = next
        }
        Issue.record("\(route): more than \(maxPages) pages")
        return ids
    }

    @Test func bulkOperationsPageNewestFirstToTheEndAndFilterOnStatus() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("page-none")
        var mine: [String] = []
        for _ in 0..<7 {
            let r = await s.bus.call(
                Route.bulkCreate,
                ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "allow_empty": true])
            mine.append(try #require(r.body?["id"]?.stringValue, "\(r)"))
        }
        let all = try await Self.walk(s.bus, Route.bulkList, ["limit": 3], list: "operations")
        #expect(Set(all).count == all.count, "no operation twice")
        let seen = all.filter(mine.contains)
        #expect(seen == mine.reversed(), "all seven, newest first: \(seen)")
        let succeeded = try await Self.walk(s.bus, Route.bulkList, ["limit": 50, "status": "succeeded"], list: "operations")
        #expect(Set(mine).isSubset(of: succeeded))
        let running = try await Self.walk(s.bus, Route.bulkList, ["limit": 50, "status": "running"], list: "operations")
        #expect(Set(mine).isDisjoint(with: running), "the filter keeps only running ones")
        for bad: [String: JSONValue] in [["status": "done"], ["cursor": "op-1"], ["cursor": 5]] {
            let r = await s.bus.call(Route.bulkList, .object(bad))
            #expect(r.status == 422 && r.errorFields == Array(bad.keys), "\(bad): \(r)")
        }
    }

    @Test func rolloutsSchedulesGroupsAndRunsPageToTheEnd() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("page")
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": [["id": .string("\(tag)-1"), "tags": [.string(tag)]]]])
        // Rollouts of one host each.
        var rollouts: [String] = []
        for _ in 0..<5 {
            let r = await s.bus.call(Route.rollingCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 1])
            rollouts.append(try #require(r.body?["id"]?.stringValue, "\(r)"))
        }
        let allRollouts = try await Self.walk(s.bus, Route.rollingList, ["limit": 2], list: "deployments")
        #expect(allRollouts.filter(rollouts.contains) == rollouts.reversed())
        #expect(Set(allRollouts).count == allRollouts.count)
        var succeeded: [String] = []
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                succeeded = (try? await Self.walk(s.bus, Route.rollingList, ["status": "succeeded", "limit": 100], list: "deployments")) ?? []
                return Set(rollouts).isSubset(of: succeeded)
            }, "the five rollouts run to their end")
        let failed = try await Self.walk(s.bus, Route.rollingList, ["status": "failed", "limit": 100], list: "deployments")
        #expect(Set(rollouts).isDisjoint(with: failed), "the filter keeps only failed ones")

        // Schedules, enabled and disabled.
        var schedules: [String] = []
        for i in 0..<5 {
            let r = await s.bus.call(
                Route.schedulesCreate,
                [
                    "name": .string("\(tag)-\(i)"), "cron": "0 0 1 1 *", "operation_type": "reboot", "selector": ["tags": [.string("\(tag)-none")]],
                    "enabled": .bool(i != 0),
                ])
            schedules.append(try #require(r.body?["id"]?.stringValue, "\(r)"))
        }
        let allSchedules = try await Self.walk(s.bus, Route.schedulesList, ["limit": 2], list: "schedules")
        #expect(allSchedules.filter(schedules.contains) == schedules.reversed())
        let disabled = try await Self.walk(s.bus, Route.schedulesList, ["status": "disabled"], list: "schedules")
        #expect(disabled.filter(schedules.contains) == [schedules[0]])

        // A schedule's runs: five manual runs (of an empty selection: each is skipped at once).
        let sid = JSONValue.string(schedules[1])
        for _ in 0..<5 {
            #expect(await s.bus.call(Route.schedulesRun, ["id": sid]).status == 201)
            try await Task.sleep(for: .milliseconds(5))  // distinct fire instants
        }
        let runs = try await Self.walk(s.bus, Route.schedulesRuns, ["id": sid, "limit": 2], list: "runs", id: "fire_at")
        #expect(runs.count == 5 && Set(runs).count == 5 && runs == runs.sorted(by: >), "\(runs)")
        #expect(try await Self.walk(s.bus, Route.schedulesRuns, ["id": sid, "status": "failed"], list: "runs", id: "fire_at").isEmpty)
        #expect(try await Self.walk(s.bus, Route.schedulesRuns, ["id": sid, "status": "skipped"], list: "runs", id: "fire_at") == runs)
        let badCursor = await s.bus.call(Route.schedulesRuns, ["id": sid, "cursor": "yesterday"])
        #expect(badCursor.status == 422 && badCursor.errorFields == ["cursor"])
        for id in schedules { _ = await s.bus.call(Route.schedulesDelete, ["id": .string(id)]) }

        // Groups, by id.
        let groups = (0..<5).map { "\(tag)-g\($0)" }
        for g in groups { #expect(await s.bus.call(Route.groupsUpsert, ["id": .string(g), "name": .string(g)]).status == 201) }
        let allGroups = try await Self.walk(s.bus, Route.groupsList, ["limit": 2], list: "groups")
        #expect(allGroups.filter(groups.contains) == groups && allGroups == allGroups.sorted() && Set(allGroups).count == allGroups.count)
        for g in groups { _ = await s.bus.call(Route.groupsDelete, ["id": .string(g)]) }
    }
}
