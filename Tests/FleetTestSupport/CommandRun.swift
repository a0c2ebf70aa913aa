import Foundation

/// A short-lived command from the build (fleetctl, `fleet-gateway create-token`) run to completion
/// against the test stack, with its exit status and output.
public struct CommandRun: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// Runs `executable` from the build directory with the test stack's environment plus `extra`;
    /// killed after `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> CommandRun {
        try await run(absolute: "\(ServiceProcess.binDirectory)/\(executable)", arguments, environment: extra, timeout: timeout)
    }

    /// Runs the program at `path` the same way.
    public static func run(
        absolute path: String, _ arguments: [String], environment extra: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> CommandRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["FLEET_AMQP_URL"] = TestEnvironment.serviceAMQPURL
        env["FLEET_REDIS_URL"] = TestEnvironment.serviceRedisURL
        for (k, v) in extra { env[k] = v }
        process.environment = env
        // Output to files, not pipes: a pipe's write end leaks into every process the tests spawn
        // meanwhile, and reading it to the end would then wait for those to exit.
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-cmd-\(UInt64.random(in: 0...UInt64.max))")
        let outPath = base.path + ".out", errPath = base.path + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { process.terminate() }
            try await Task.sleep(for: .milliseconds(20))
        }
        let o = FileManager.default.contents(atPath: outPath) ?? Data()
        let e = FileManager.default.contents(atPath: errPath) ?? Data()
        return CommandRun(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
