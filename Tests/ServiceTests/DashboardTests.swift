import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// The dashboard page in headless Chromium against a real gateway and a running operation: the
/// operation's numbers appear, and change between two looks.
@Suite("dashboard in headless Chromium", .serialized)
struct DashboardTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The page's DOM after it has run for `budgetMs` of virtual time.
    static func dump(_ url: String, budgetMs: Int = 3000) async throws -> String {
        let browser = try #require(chromium, "chromium is installed by scripts/install-deps.sh")
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent(unique("chromium-profile")).path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let run = try await CommandRun.run(
            absolute: browser,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=\(profile)", "--virtual-time-budget=\(budgetMs)", "--dump-dom", url,
            ],
            timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        return run.stdout
    }

    /// `(succeeded, total)` the page shows for `id`.
    static func numbers(_ dom: String, _ id: String) -> (Int, Int)? {
        guard let range = dom.range(of: "data-id=\"\(id)\"") else { return nil }
        let tail = dom[range.upperBound...].prefix(200)
        func attr(_ name: String) -> Int? {
            guard let r = tail.range(of: "\(name)=\"") else { return nil }
            return Int(tail[r.upperBound...].prefix { $0.isNumber })
        }
        guard let succeeded = attr("data-succeeded"), let total = attr("data-total") else { return nil }
        return (succeeded, total)
    }

    @Test func aRunningOperationsNumbersAppearAndChange() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let prefix = unique("dash")
        let agent = try await s.simulatedFleet(prefix, count: 40, arguments: ["--latency-ms", "1000"])
        defer { agent.stop() }
        // One host at a time, a second each: forty seconds of progress, so the operation is still
        // running (and so listed first, whatever other tests create meanwhile) at both looks,
        // however slowly a loaded machine starts Chromium. Cancelled once seen.
        let created = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "run_script", "selector": ["tags": [.string(prefix)]],
                "parameters": ["content": "uptime"], "concurrency": 1,
            ])
        let op = try #require(created.body?["id"]?.stringValue)
        defer { Task { _ = await s.bus.call(Route.bulkCancel, ["id": .string(op)]) } }
        let page = "\(url)/dashboard#token=\(token)"
        let first = try await Self.dump(page)
        try await Task.sleep(for: .seconds(2))
        let second = try await Self.dump(page)
        let a = try #require(Self.numbers(first, op), "the operation is listed: \(first.prefix(3000))")
        let b = try #require(Self.numbers(second, op))
        #expect(a.1 == 40 && b.1 == 40)
        #expect(b.0 > a.0, "progress moved: \(a.0) then \(b.0)")
        #expect(b.0 < 40, "seen while running")
        #expect(first.contains("Bulk operations") && first.contains("Rolling deployments") && first.contains("Schedules"))
    }

    /// `#operation=ID`: the page watches that operation from `GET /events` and polls nothing; the
    /// live numbers move between two looks while the lists were read once.
    @Test func aWatchedOperationUpdatesFromItsStreamWithoutPolling() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let prefix = unique("dashlive")
        let agent = try await s.simulatedFleet(prefix, count: 40, arguments: ["--latency-ms", "400"])
        defer { agent.stop() }
        let created = await s.bus.call(
            Route.bulkCreate,
            ["operation_type": "run_script", "selector": ["tags": [.string(prefix)]], "parameters": ["content": "uptime"], "concurrency": 1])
        let op = try #require(created.body?["id"]?.stringValue)
        defer { Task { _ = await s.bus.call(Route.bulkCancel, ["id": .string(op)]) } }
        let page = "\(url)/dashboard#token=\(token)&operation=\(op)"
        // Real time, not virtual: the stream's events come on the clock (scripts/chromium_dom.py).
        let browser = try #require(Self.chromium, "chromium is installed by scripts/install-deps.sh")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/chromium_dom.py").path
        let run = try await CommandRun.run(absolute: "/usr/bin/python3", [script, browser, page, "5"], timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let dom = run.stdout
        func attr(_ name: String) -> Int? {
            guard let at = dom.range(of: "data-live=\"\(op)\"") else { return nil }
            let tail = dom[at.upperBound...].prefix(300)
            guard let r = tail.range(of: "\(name)=\"") else { return nil }
            return Int(tail[r.upperBound...].prefix { $0.isNumber })
        }
        let events = try #require(attr("data-events"), "the live view is drawn: \(dom.prefix(3000))")
        #expect(events >= 3, "a snapshot and host results arrived over the stream: \(events)")
        #expect((attr("data-succeeded") ?? 0) >= 1 && attr("data-total") == 40)
        #expect(dom.contains("data-polls=\"1\""), "the lists were read once and not polled again")
    }
}
