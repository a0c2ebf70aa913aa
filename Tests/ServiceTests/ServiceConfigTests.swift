import FleetMessaging
import FleetTestSupport
import Foundation
import Testing

/// Every `FLEET_*` setting is checked at start: a bad value stops the process with the variable
/// named, instead of a silent default.
@Suite("settings checked at start")
struct ServiceConfigTests {
    @Test(arguments: [
        ("FLEET_PREFETCH", "abc"), ("FLEET_PREFETCH", "0"), ("FLEET_REQUEST_TIMEOUT_MS", "-5"), ("FLEET_METRICS_PORT", "70000"),
        ("FLEET_SELECTOR_BUDGET_MS", "1.5"), ("FLEET_LOG_LEVEL", "verbose"), ("FLEET_AMQP_URL", "http://127.0.0.1:5672/"),
        ("FLEET_REDIS_URL", "127.0.0.1:6379"), ("FLEET_GATE_HOSTS", " , "), ("FLEET_GATE_HOSTS", "alerts.example/health"),
    ])
    func aBadValueNamesItsVariable(variable: String, value: String) {
        do throws(ConfigError) {
            try ServiceConfig.check([variable: value])
            Issue.record("\(variable)=\(value) accepted")
        } catch {
            #expect(error.variable == variable)
            #expect(error.description.contains(value))
        }
    }

    /// A bad Redis URL is named without the password it may hold.
    @Test func aBadRedisURLIsShownWithoutItsPassword() {
        do throws(ConfigError) {
            try ServiceConfig.check(["FLEET_REDIS_URL": "rediss://:hunter2@10.0.0.1:6379/0"])
            Issue.record("accepted")
        } catch {
            #expect(error.variable == "FLEET_REDIS_URL")
            #expect(!error.description.contains("hunter2") && error.description.contains("rediss://:***@10.0.0.1:6379/0"), "\(error)")
        }
    }

    @Test func goodValuesPass() throws {
        try ServiceConfig.check([
            "FLEET_PREFETCH": "64", "FLEET_METRICS_PORT": "0", "FLEET_LOG_LEVEL": "debug",
            "FLEET_AMQP_URL": "amqp://u:p@127.0.0.1:5672/%2f", "FLEET_REDIS_URL": "redis://127.0.0.1:6379/3",
            "FLEET_GATE_HOSTS": "127.0.0.1, Alerts.Example",
        ])
        // A cluster of each: one URL per broker node, the Redis Cluster's nodes.
        try ServiceConfig.check([
            "FLEET_AMQP_URL": "amqp://u:p@10.0.0.1:5672/fleet,amqp://u:p@10.0.0.2:5672/fleet",
            "FLEET_REDIS_URL": "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
        ])
        #expect(ServiceConfig(environment: ["FLEET_GATE_HOSTS": "127.0.0.1, Alerts.Example"]).gateHosts == ["127.0.0.1", "alerts.example"])
        #expect(ServiceConfig(environment: [:]).gateHosts == nil)
    }

    /// An agent's broker URL (it holds its password) comes from a file: the first line, trimmed,
    /// over `FLEET_AMQP_URL`. A file that cannot be read, or holds no amqp:// URL, names the
    /// variable and never echoes the URL.
    @Test func theBrokerURLCanComeFromAFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(unique("urlfile"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good").path
        try Data("  amqp://agent.web-1:s3cret@broker:5672/%2f  \nignored\n".utf8).write(to: URL(fileURLWithPath: good))
        let env = ["FLEET_AMQP_URL_FILE": good, "FLEET_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2f"]
        try ServiceConfig.check(env)
        #expect(ServiceConfig(environment: env).amqpURL == "amqp://agent.web-1:s3cret@broker:5672/%2f")
        let bad = dir.appendingPathComponent("bad").path
        try Data("http://agent.web-1:s3cret@broker/\n".utf8).write(to: URL(fileURLWithPath: bad))
        for path in [bad, dir.appendingPathComponent("missing").path] {
            do throws(ConfigError) {
                try ServiceConfig.check(["FLEET_AMQP_URL_FILE": path])
                Issue.record("\(path) accepted")
            } catch {
                #expect(error.variable == "FLEET_AMQP_URL_FILE")
                #expect(!error.description.contains("s3cret"), "the password stays out of the message: \(error)")
            }
        }
    }

    /// The real process: it exits 78 (EX_CONFIG) at once, saying which variable, and serves nothing.
    @Test(arguments: ["fleet-selector", "fleet-agent"])
    func aServiceStopsAtStartOnABadSetting(executable: String) async throws {
        let process = try ServiceProcess(
            executable, arguments: executable == "fleet-agent" ? ["--simulate", "1"] : [], environment: ["FLEET_PREFETCH": "lots"])
        defer { process.stop() }
        #expect(await process.waitForLog("bad setting FLEET_PREFETCH", timeout: .seconds(30)), "\(process.log)")
        #expect(await process.terminate() == 78, "\(process.log)")
    }
}
