import FleetContracts
import FleetCore
import FleetMessaging
import FleetTestSupport
import FleetctlKit
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Request ids across services, the gateway's access log, JSON logs, and the metrics the shipped
/// Grafana dashboard graphs, against the running stack.
@Suite("observability")
struct ObservabilityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One HTTP call: status, the response's X-Request-Id, the body.
    static func call(
        _ url: String, _ method: String, _ path: String, token: String?, requestID: String? = nil, body: JSONValue? = nil
    ) async throws -> (Int, String?, JSONValue?) {
        var request = URLRequest(url: URL(string: url + path)!, timeoutInterval: 30)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let requestID { request.setValue(requestID, forHTTPHeaderField: "X-Request-Id") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(JSONCoding.encode(body))
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "X-Request-Id"), JSONCoding.decode(Array(data)))
    }

    /// The first line of `logs` holding every one of `parts`, waiting (bounded) for it.
    static func line(in logs: @escaping () -> [String], _ parts: [String]) async -> String? {
        var found: String?
        _ = await TestEnvironment.eventually(timeout: .seconds(10)) {
            found = logs().lazy.flatMap { $0.split(separator: "\n") }.map(String.init).first { l in parts.allSatisfy { l.contains($0) } }
            return found != nil
        }
        return found
    }

    /// The text of this run's log files whose names start with `prefix` (they sit beside `process`'s).
    static func logs(named prefix: String, beside process: ServiceProcess) -> [String] {
        let dir = URL(fileURLWithPath: process.logPath).deletingLastPathComponent().path
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0.hasPrefix(prefix) }.compactMap { try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8) }
    }

    /// A bulk create crosses the gateway, the dispatcher and the selector (the dispatcher resolves
    /// the selector over the bus): the one request id is in the response and in a log line of each.
    @Test func theRequestIDFollowsACommandAcrossServicesAndTheAccessLogHasEachRequest() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let gateway = try await FleetctlTests.Gateway.shared.process()
        let id = unique("trace-")
        let (status, echoed, body) = try await Self.call(
            url, "POST", "/api/v1/fleet/bulk", token: token, requestID: id,
            body: ["operation_type": "reboot", "selector": ["tags": [.string(unique("none"))]], "allow_empty": true])
        #expect(status == 201 && echoed == id, "\(String(describing: body))")
        let dispatcher = try #require(s.processes.first { $0.name == "fleet-bulk-dispatcher" })
        func line(_ process: ServiceProcess, _ parts: String...) async -> String? { await Self.line(in: { [process.log] }, parts) }
        /// Any selector of the shared stack: another test may run a second replica beside it.
        func selectorLine(_ parts: String...) async -> String? {
            await Self.line(in: { Self.logs(named: "fleet-selector-", beside: dispatcher) }, parts)
        }
        let access = await line(gateway, "request_id=\(id)", "route=/api/v1/fleet/bulk", "status=201", "method=POST")
        #expect(access != nil, "the gateway's access line")
        #expect(access?.range(of: #"token_id=[0-9a-f]{12}"#, options: .regularExpression) != nil, "\(access ?? "")")
        #expect(access?.contains("duration_ms=") == true)
        #expect(!gateway.log.contains(token), "the token itself is never logged")
        #expect(await line(dispatcher, "request_id=\(id)", "route=bulk.create", "status=201") != nil, "the dispatcher's line")
        #expect(await selectorLine("request_id=\(id)", "route=selector.resolve") != nil, "the selector's line, one hop further")

        // No id, or one a log line must not carry: the gateway makes one.
        for sent in [nil, "not ok/" + String(repeating: "x", count: 200)] {
            let (status, made, _) = try await Self.call(url, "GET", "/api/v1/fleet/hosts?limit=1", token: token, requestID: sent)
            #expect(status == 200 && made?.range(of: "^[0-9a-f]{16}$", options: .regularExpression) != nil, "\(String(describing: made))")
            #expect(await line(gateway, "request_id=\(made ?? "?")", "route=/api/v1/fleet/hosts", "status=200") != nil)
        }
        let (denied, _, _) = try await Self.call(url, "GET", "/api/v1/fleet/hosts", token: nil, requestID: id + "-401")
        #expect(denied == 401)
        #expect(await line(gateway, "request_id=\(id)-401", "status=401", "token_id=-") != nil, "refusals are logged too")
    }

    /// `FLEET_LOG_FORMAT=json`: one JSON object per line, with the request id; an unknown format
    /// stops a process at start (exit 78), naming the variable.
    @Test func jsonLogsAreOneObjectPerLineAndAnUnknownFormatIsRefused() async throws {
        _ = try await ServiceStack.shared.handle()
        let port = TestEnvironment.freePort()
        let gateway = try ServiceProcess("fleet-gateway", environment: ["FLEET_GATEWAY_PORT": String(port), "FLEET_LOG_FORMAT": "json"])
        defer { gateway.stop() }
        let id = unique("json-")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                (try? await Self.call("http://127.0.0.1:\(port)", "GET", "/health", token: nil, requestID: id).0) == 200
            })
        var access: JSONValue?
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(10)) {
                let objects = gateway.log.split(separator: "\n").map { JSONCoding.decode(Array($0.utf8)) }
                access = objects.compactMap { $0 }.first { $0["request_id"] == .string(id) }
                return objects.allSatisfy { $0 != nil } && access != nil
            }, "every line is JSON: \(gateway.log.prefix(2000))")
        #expect(access?["route"] == "/health" && access?["status"] == "200" && access?["logger"] == "fleet.gateway.access" && access?["level"] == "info")
        #expect(access?["ts"]?.stringValue?.hasPrefix("20") == true && access?["message"] == "request")

        let refused = try await CommandRun.run("fleet-selector", [], environment: ["FLEET_LOG_FORMAT": "xml"], timeout: .seconds(30))
        #expect(refused.status == 78 && refused.stderr.contains("FLEET_LOG_FORMAT"), "\(refused.stderr)")
    }

    /// Every metric the shipped Grafana dashboard graphs is in a real scrape of the services that
    /// export it, after real work (an operation over simulated hosts, HTTP calls); every metric
    /// has a HELP text of the catalogue; the services' /health answers on their metrics port.
    @Test func theDashboardGraphsOnlyMetricsAScrapeHasAndEachHasHelp() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let prefix = unique("obs")
        let agent = try await s.simulatedFleet(prefix, count: 2)
        defer { agent.stop() }
        let (status, _, created) = try await Self.call(
            url, "POST", "/api/v1/fleet/bulk", token: token,
            body: ["operation_type": "run_script", "selector": ["tags": [.string(prefix)]], "parameters": ["content": "true"]])
        let op = try #require(created?["id"]?.stringValue, "\(status) \(String(describing: created))")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(60)) {
                await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"] == "succeeded"
            })
        // The gauges are read from Redis every 5 s.
        try await Task.sleep(for: .milliseconds(5_500))

        var scrape = ""
        for base in [url, "http://127.0.0.1:\(s.dispatcherMetricsPort)", "http://127.0.0.1:\(s.controllerMetricsPort)"] {
            scrape += try await GatewayClient(baseURL: base, token: nil).text("/metrics") + "\n"
        }
        let lines = scrape.split(separator: "\n")
        let samples = Set(lines.filter { !$0.hasPrefix("#") }.compactMap { $0.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init) })
        let typed = lines.filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
        let helped = Dictionary(
            lines.filter { $0.hasPrefix("# HELP ") }.map { l -> (String, String) in
                let parts = l.split(separator: " ", maxSplits: 3)
                return (String(parts[2]), parts.count > 3 ? String(parts[3]) : "")
            }, uniquingKeysWith: { a, _ in a })
        #expect(!typed.isEmpty)
        for name in typed {
            #expect(helped[name].map { !$0.isEmpty && !$0.contains("not in the catalogue") } == true, "\(name) has a HELP text of the catalogue")
        }

        let dashboardPath = Self.root.appendingPathComponent("compose/grafana/fleet-dashboard.json").path
        let dashboard = try #require(JSONCoding.decode(Array(try Data(contentsOf: URL(fileURLWithPath: dashboardPath)))), "the dashboard is JSON")
        let panels = dashboard["panels"]?.arrayValue ?? []
        #expect(panels.count >= 10 && dashboard["uid"] == "fleet-engine")
        let expressions = panels.flatMap { $0["targets"]?.arrayValue ?? [] }.compactMap { $0["expr"]?.stringValue }
        #expect(expressions.count >= panels.count)
        let graphed = Set(
            expressions.flatMap { expr in
                expr.matches(of: /fleet_[a-z_]+/).map { String($0.output) }
            })
        #expect(graphed.count >= 12)
        for name in graphed.sorted() { #expect(samples.contains(name), "\(name), graphed by the dashboard, is in a real scrape") }

        for port in [s.dispatcherMetricsPort, s.controllerMetricsPort] {
            let (status, _, health) = try await Self.call("http://127.0.0.1:\(port)", "GET", "/health", token: nil)
            #expect(status == 200 && health?["ready"] == true)
        }
    }
}
