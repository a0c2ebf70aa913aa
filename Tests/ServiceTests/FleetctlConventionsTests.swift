import FleetContracts
import FleetCore
import FleetTestSupport
import FleetctlKit
import Foundation
import Testing

/// What operators expect of a CLI: contexts from a config file, closed choices as enums (listed in
/// help and completion, a typo exit 64), the documented exit statuses, completion scripts.
@Suite("fleetctl conventions")
struct FleetctlConventionsTests {
    static let cleanEnvironment = ["FLEET_URL": "", "FLEET_TOKEN": "", "FLEET_CONTEXT": ""]

    private func configFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fleetctl-config-\(UInt32.random(in: 0...UInt32.max)).json").path
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else { throw CocoaError(.fileWriteUnknown) }
        return path
    }

    @Test func contextsComeFromTheConfigFileAndFlagsAndVariablesWin() async throws {
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let tokenFile = try configFile(token + "\n")
        let config = try configFile(
            """
            {"current_context": "down",
             "contexts": {"lab": {"url": "\(url)", "token_file": "\(tokenFile)", "output": "json"},
                          "down": {"url": "http://127.0.0.1:1", "token_file": "\(tokenFile)"}}}
            """)
        var env = Self.cleanEnvironment
        env["FLEETCTL_CONFIG"] = config
        let lab = try await CommandRun.run("fleetctl", ["hosts", "list", "--limit", "1", "--context", "lab"], environment: env)
        #expect(lab.status == 0, "\(lab.stderr)")
        #expect(JSONCoding.decode(Array(lab.stdout.utf8))?["hosts"] != nil, "the context's output is json: \(lab.stdout)")
        let current = try await CommandRun.run("fleetctl", ["hosts", "list"], environment: env)
        #expect(current.status == 1 && current.stderr.contains("cannot reach"), "the current context's gateway is down: \(current.stderr)")
        var byVariable = env
        byVariable["FLEET_CONTEXT"] = "lab"
        #expect(try await CommandRun.run("fleetctl", ["hosts", "list", "--limit", "1"], environment: byVariable).status == 0)
        let flagWins = try await CommandRun.run("fleetctl", ["hosts", "list", "--limit", "1", "--context", "down", "--url", url], environment: env)
        #expect(flagWins.status == 0 && !flagWins.stdout.hasPrefix("{"), "--url over the context's url; tables by default: \(flagWins.stderr)")
        let unknown = try await CommandRun.run("fleetctl", ["hosts", "list", "--context", "prod"], environment: env)
        #expect(unknown.status == 64 && unknown.stderr.contains("no context prod"), "\(unknown.stderr)")
        env["FLEETCTL_CONFIG"] = try configFile(#"{"contexts": {"x": {"url": "http://h", "tokenfile": "t"}}}"#)
        let typo = try await CommandRun.run("fleetctl", ["hosts", "list"], environment: env)
        #expect(typo.status == 64 && typo.stderr.contains("tokenfile"), "a typo in the file is named, not ignored: \(typo.stderr)")
    }

    @Test func theConfigurationIsParsedStrictly() throws {
        let home = "/home/op"
        let config = try FleetctlConfig.parse(
            Array(#"{"current_context": "a", "contexts": {"a": {"url": "http://x", "token_file": "~/t", "output": "table"}}}"#.utf8), home: home)
        #expect(try config.context(named: nil) == FleetctlConfig.Context(url: "http://x", tokenFile: "/home/op/t", json: false))
        for bad in [
            #"[]"#, #"{"current_context": 3}"#, #"{"current_context": "b", "contexts": {}}"#, #"{"contexts": {"a": {"output": "yaml"}}}"#, #"{"contexts": []}"#,
        ] {
            #expect(throws: FleetctlConfig.Failure.self, "\(bad)") { try FleetctlConfig.parse(Array(bad.utf8), home: home) }
        }
        #expect(FleetctlConfig.defaultPath(["HOME": "/h"]) == "/h/.config/fleetctl/config.json")
        #expect(FleetctlConfig.defaultPath(["XDG_CONFIG_HOME": "/x", "HOME": "/h"]) == "/x/fleetctl/config.json")
        #expect(FleetctlConfig.defaultPath(["FLEETCTL_CONFIG": "/etc/f.json"]) == "/etc/f.json")
        #expect(try FleetctlConfig.load(path: "/nonexistent/config.json", home: home) == .empty)
    }

    @Test func closedChoicesAreEnumsThatHelpAndCompletionList() async throws {
        let typo = try await CommandRun.run("fleetctl", ["bulk", "create", "--type", "rebot", "--tags", "x"], environment: Self.cleanEnvironment)
        #expect(typo.status == 64 && typo.stderr.contains("reboot"), "a usage error listing the values: \(typo.stderr)")
        let help = try await CommandRun.run("fleetctl", ["schedules", "create", "--help"])
        #expect(help.status == 0)
        for value in ["run_script", "apply_deployment_plan", "fire_once", "forbid"] { #expect(help.stdout.contains(value), "\(value) in help") }
        let listHelp = try await CommandRun.run("fleetctl", ["rolling", "list", "--help"])
        #expect(listHelp.stdout.contains("awaiting_approval") && listHelp.stdout.contains("--cursor"))
        for shell in ["bash", "zsh", "fish"] {
            let script = try await CommandRun.run("fleetctl", ["--generate-completion-script", shell])
            #expect(script.status == 0 && script.stdout.contains("fleetctl") && script.stdout.contains("run_script"), "\(shell)")
        }
        #expect(try await CommandRun.run("fleetctl", ["bulk", "list", "--status", "done"]).status == 64)
    }

    @Test func aWaitThatTimesOutExitsThree() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let prefix = unique("slow")
        let agent = try await s.simulatedFleet(prefix, count: 1, arguments: ["--latency-ms", "15000"])
        defer { agent.stop() }
        let waited = try await CommandRun.run(
            "fleetctl", ["bulk", "create", "--type", "reboot", "--tags", prefix, "--wait", "--timeout", "1"],
            environment: ["FLEET_URL": url, "FLEET_TOKEN": token, "FLEET_CONTEXT": ""], timeout: .seconds(60))
        #expect(waited.status == 3 && waited.stderr.contains("still running"), "\(waited.status) \(waited.stderr)")
    }
}
