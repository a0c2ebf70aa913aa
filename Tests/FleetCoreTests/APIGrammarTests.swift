import Foundation
import Testing

@testable import FleetCore

/// Grammars docs/openapi.yaml states as patterns and lists: the validation refuses exactly what
/// the spec refuses, so schemathesis (scripts/api-fuzz.sh) finds neither side looser.
struct APIGrammarTests {
    /// The `TimeZoneName` enum of the spec is the list the scheduler accepts, no more, no less.
    @Test func theSpecListsEveryTimeZoneTheSchedulerTakes() throws {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/openapi.yaml")
        let text = try String(contentsOf: spec, encoding: .utf8)
        let schema = try #require(text.range(of: "    TimeZoneName:\n"))
        let open = try #require(text.range(of: "enum: [", range: schema.upperBound..<text.endIndex))
        let close = try #require(text.range(of: "]", range: open.upperBound..<text.endIndex))
        let listed = Set(text[open.upperBound..<close.lowerBound].split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(listed == CronSchedule.timeZoneNames, "regenerate the enum from CronSchedule.timeZoneNames")
        #expect(throws: ValidationError.self) { try CronSchedule(cron: "@daily", timeZone: "GMT+2") }
        #expect(throws: ValidationError.self) { try CronSchedule(cron: "@daily", timeZone: "utc") }
        _ = try CronSchedule(cron: "@daily", timeZone: "UTC")
        _ = try CronSchedule(cron: "@daily", timeZone: "Europe/Paris")
    }

    /// The gate URL grammar: the spec states `RolloutGate.urlPattern` itself, and it takes and
    /// refuses what an operator would expect.
    @Test func theSpecStatesTheGateURLPattern() throws {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/openapi.yaml")
        let yamlEscaped = RolloutGate.urlPattern.replacingOccurrences(of: "\\", with: "\\\\")
        #expect(try String(contentsOf: spec, encoding: .utf8).contains("pattern: \"\(yamlEscaped)\""))
        for ok in ["http://127.0.0.1:8080/health", "https://alerts.example/api/v1/ok?rollout=ro-1&x=%2F", "HTTP://a", "http://a-b.c/"] {
            #expect(RolloutGate.isAcceptable(ok), "\(ok)")
        }
        for bad in [
            "ftp://a/", "http://u:p@a/", "http://a b/", "http://a/\u{1c}", "http://ä/", "http://a/%zz", "http:///x", "http://[::1]/", "http://a/#f",
            "http://a:/",
        ] {
            #expect(!RolloutGate.isAcceptable(bad), "\(bad)")
        }
    }

    /// docs/openapi.yaml states the release the executables report.
    @Test func theSpecStatesTheRelease() throws {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/openapi.yaml")
        #expect(try String(contentsOf: spec, encoding: .utf8).contains("\n  version: \(FleetVersion.current)\n"))
    }

    /// `^(100(\.0+)?|[1-9][0-9]?(\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)%$`, and in (0, 100].
    @Test(arguments: [
        ("10%", 10.0), ("100%", 100), ("100.0%", 100), ("0.5%", 0.5), ("33.25%", 33.25), ("1%", 1), ("0.01%", 0.01),
    ])
    func percentagesTheSpecAllows(_ text: String, _ value: Double) throws {
        #expect(try BatchSize(json: .string(text), path: "batch_size") == .percent(value))
    }

    @Test(arguments: ["0%", "0.0%", "100.5%", "101%", " 10%", "10 %", "+10%", "1e1%", "010%", ".5%", "5.%", "10", "%", "nan%", "0x10%", "-5%"])
    func percentagesTheSpecRefuses(_ text: String) {
        #expect(throws: ValidationError.self) { try BatchSize(json: .string(text), path: "batch_size") }
    }

    /// Lengths count Unicode scalars, as JSON Schema's maxLength counts characters.
    @Test func aGroupNameOf200ScalarsFitsAnd201DoNot() throws {
        let wide = String(repeating: "é", count: 200)  // 400 UTF-8 bytes
        _ = try HostGroup(json: ["name": .string(wide)], defaultID: "g1")
        #expect(throws: ValidationError.self) { try HostGroup(json: ["name": .string(wide + "é")], defaultID: "g1") }
        // Blank is spaces, tabs and line breaks only (the spec's pattern `[^ \t\r\n]`).
        #expect(throws: ValidationError.self) { try HostGroup(json: ["name": " \t\r\n"], defaultID: "g1") }
        _ = try HostGroup(json: ["name": "\u{3000}"], defaultID: "g1")
    }

    /// The canonical form a rollout or a schedule passes on is read back as the same parameters
    /// (mode 0 was written "00", which the reader refuses: schemathesis found it in a plan).
    @Test(arguments: ["000", "0000", "007", "0644", "7777", "644"])
    func aFileModeSurvivesItsCanonicalForm(_ mode: String) throws {
        let sent: JSONValue = ["path": "/etc/x", "content": "x", "mode": .string(mode)]
        let first = try OperationParameters(type: .deployFile, json: sent)
        let again = try OperationParameters(type: .deployFile, json: first.json)
        #expect(again == first)
        #expect(first.json["mode"]?.stringValue?.count == 4)
    }

    /// Paths are read by Unicode scalars, as the spec's pattern reads them.
    @Test func aSeparatorBeforeACombiningMarkStillSeparates() {
        #expect(DeployFile.pathProblem("/etc/\u{301}") == nil)
        #expect(DeployFile.pathProblem("/etc//\u{301}") != nil)
        #expect(DeployFile.pathProblem("/etc/.") != nil)
        #expect(DeployFile.pathProblem("/etc/..x") == nil)
        #expect(DeployFile.pathProblem("C:\\app\\x.conf") == nil)
        #expect(DeployFile.pathProblem("\u{e9}:\\app") != nil)
    }

    /// Integers past 9e15 (or past Int64) are refused where an integer is needed, however spelled.
    @Test func largeIntegersAreNotIntegers() throws {
        for text in ["8999999999999999", "9000000000000000", "9223372036854775807", "18446744073709551615", "-9223372036854775807"] {
            let value = try #require(JSONCoding.decode(Array(text.utf8)))
            #expect((value.intValue != nil) == (text == "8999999999999999"), "\(text)")
        }
    }
}
