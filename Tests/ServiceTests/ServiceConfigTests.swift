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
        ("FLEET_REDIS_URL", "127.0.0.1:6379"),
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

    @Test func goodValuesPass() throws {
        try ServiceConfig.check([
            "FLEET_PREFETCH": "64", "FLEET_METRICS_PORT": "0", "FLEET_LOG_LEVEL": "debug",
            "FLEET_AMQP_URL": "amqp://u:p@127.0.0.1:5672/%2f", "FLEET_REDIS_URL": "redis://127.0.0.1:6379/3",
        ])
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
