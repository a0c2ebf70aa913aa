import FleetContracts
import FleetCore
import Foundation
import Testing

/// Each contract type against its golden JSON (Fixtures/<name>.v<version>.json): the fixture
/// decodes, encodes back byte for byte, and equals the value built in code, so a renamed field or
/// a changed type shows here before it reaches a consumer of another version.
@Suite("contract messages against their golden JSON")
struct GoldenFixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture<M: FleetMessage>(_: M.Type) throws -> [UInt8] {
        let url = fixtures.appendingPathComponent("\(M.messageName).v\(M.messageVersion).json")
        let text = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return Array(text.utf8)
    }

    func check<M: FleetMessage>(_ value: M) throws {
        let url = Self.fixtures.appendingPathComponent("\(M.messageName).v\(M.messageVersion).json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            // A new message: write what it encodes to as `.new`, for its author to read and rename.
            try Data(value.encoded + [0x0A]).write(to: url.appendingPathExtension("new"))
            Issue.record("\(M.messageName) has no golden fixture; wrote \(url.lastPathComponent).new")
            return
        }
        let golden = try Self.fixture(M.self)
        let decoded = try M.decode(golden)
        #expect(decoded == value, "\(M.messageName): the fixture decodes to the value built in code")
        #expect(String(decoding: value.encoded, as: UTF8.self) == String(decoding: golden, as: UTF8.self), "\(M.messageName): encodes to the fixture")
        #expect(try M.decode(value.encoded) == value, "\(M.messageName): round trip")
        // The JSONValue of a command or reply body, made in one walk, is what the bytes read as.
        #expect(try JSONValueEncoder.encode(value) == JSONCoding.decode(golden), "\(M.messageName): its JSONValue is the fixture, read")
    }

    @Test func agentCommand() throws {
        try check(
            AgentCommand(
                opID: "op-2ao62yafcj4ed", hostID: "web-1", operationType: .runScript,
                parameters: ["content": "uptime", "shell": "bash", "timeout_seconds": 300], timeoutSeconds: 300))
    }

    @Test func claimRequestAndReply() throws {
        try check(ClaimRequest(opID: "op-2ao62yafcj4ed", hostIDs: ["sim-0", "sim-1"], agentID: "fleet.agent.sim"))
        try check(ClaimReply(claimed: ["sim-1"]))
    }

    @Test func agentResult() throws {
        try check(
            AgentResult(
                opID: "op-2ao62yafcj4ed", hostID: "web-1", status: .failed, reason: .exitCode, exitCode: 3, stdout: "",
                stderr: "no such file", truncated: false, startedAt: "2026-12-01T10:00:00Z", finishedAt: "2026-12-01T10:00:01Z"))
    }

    /// What does not fit is refused with the field named, never half-read.
    @Test(arguments: [
        (#"{"host_id":"h","operation_type":"reboot","parameters":{},"timeout_seconds":1,"attempt":1}"#, "op_id"),
        (#"{"op_id":"o","host_id":"h","operation_type":"format_disk","parameters":{},"timeout_seconds":1,"attempt":1}"#, "operation_type"),
        (#"{"op_id":"o","host_id":7,"operation_type":"reboot","parameters":{},"timeout_seconds":1,"attempt":1}"#, "host_id"),
        ("{not json", "body"),
    ])
    func badCommandsNameTheirField(body: String, field: String) {
        #expect(throws: ValidationError.self) { try AgentCommand.decode(Array(body.utf8)) }
        do { _ = try AgentCommand.decode(Array(body.utf8)) } catch { #expect(error.errors.first?.field == field, "\(error)") }
    }

    @Test func claimHostIDsMustBeStrings() {
        do { _ = try ClaimRequest.decode(Array(#"{"op_id":"o","host_ids":["a",2]}"#.utf8)) } catch {
            #expect(error.errors.first?.field == "host_ids[1]", "\(error)")
            return
        }
        Issue.record("accepted a number as a host id")
    }

    /// The moves a result may ask for: only what an agent may report.
    @Test func resultTransitions() {
        func t(_ s: AgentResult.Status, _ r: HostReason?) -> String? {
            AgentResult(opID: "o", hostID: "h", status: s, reason: r).transition.map { "\($0.0.rawValue):\($0.1?.rawValue ?? "")" }
        }
        #expect(t(.succeeded, nil) == "succeeded:")
        #expect(t(.succeeded, .exitCode) == nil)
        #expect(t(.failed, nil) == "failed:exit_code")
        #expect(t(.failed, .timedOut) == "failed:timed_out")
        #expect(t(.failed, .cancelled) == nil)
        #expect(t(.skipped, .unsupported) == "skipped:unsupported")
        #expect(t(.skipped, .cancelled) == nil)
        #expect(t(.skipped, nil) == nil)
    }
}
