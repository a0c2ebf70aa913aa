import FleetMessaging
import FleetRuntime
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where the integration tests find the servers `make test` started, and helpers to drive them.
public enum TestEnvironment {
    public static var amqpURL: String {
        ProcessInfo.processInfo.environment["FLEET_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    }

    public static var redisURL: String {
        ProcessInfo.processInfo.environment["FLEET_REDIS_URL"] ?? "redis://127.0.0.1:6379/0"
    }

    /// How long a test's bus call waits for its answer. Above the services' own timeout for the
    /// calls they make (`FLEET_REQUEST_TIMEOUT_MS`, 30 s under `scripts/test.sh`), so a loaded
    /// machine slows a test down instead of failing it; a hung service still fails it.
    public static let callTimeout: Duration = .seconds(45)

    /// The repository root, found from this file's path.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A TCP port on 127.0.0.1 nothing listens on now, as the kernel picks one for a bind to port 0
    /// (a random port of the ephemeral range can be in use by an outgoing connection: a service
    /// then cannot serve its metrics, as one CI run showed). The socket is closed before the
    /// caller binds, so another bind could still take it in between: rare, not impossible.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : Int.random(in: 40_000...49_999)
    }

    /// A name no other test (or earlier run) uses, so tests can run in parallel against one broker.
    public static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Runs `scripts/stack.sh <action>` (e.g. `stop-rabbitmq`) and fails loudly when it fails.
    /// posix_spawn + waitpid, not Foundation's Process: a server the script starts in the background
    /// inherits the descriptors Process watches, and waitUntilExit would then wait for the server.
    /// It waits on a thread of its own: the script runs Erlang CLI tools that take seconds.
    public static func stack(_ action: String, _ extra: String...) async throws {
        let status = try await OffPool.run("stack-\(action)") { () throws -> Int32 in try runScript("stack.sh", action, extra) }
        guard status == 0 else { throw StackScriptError(action: action, status: status) }
    }

    /// Runs `scripts/cluster.sh <action>` (the local clusters' faults) the same way.
    public static func cluster(_ action: String, _ extra: String...) async throws {
        let status = try await OffPool.run("cluster-\(action)") { () throws -> Int32 in try runScript("cluster.sh", action, extra) }
        guard status == 0 else { throw StackScriptError(action: "cluster.sh \(action)", status: status) }
    }

    /// The Redis Cluster `scripts/test.sh` starts (`scripts/cluster.sh start-redis-cluster`).
    public static var redisClusterURL: String {
        ProcessInfo.processInfo.environment["FLEET_TEST_REDIS_CLUSTER_URL"]
            ?? "redis+cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103,127.0.0.1:7104,127.0.0.1:7105,127.0.0.1:7106"
    }

    private static func runScript(_ name: String, _ action: String, _ extra: [String]) throws -> Int32 {
        let script = repositoryRoot.appendingPathComponent("scripts/\(name)").path
        let argv: [UnsafeMutablePointer<CChar>?] = (["/bin/bash", script, action] + extra).map { (s: String) in strdup(s) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var attributes = SpawnAttributes()
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, &attributes.value, argv, environ) == 0 else {
            throw StackScriptError(action: action, status: -1)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
    public static func eventually(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }
}

public struct StackScriptError: Error, CustomStringConvertible {
    public let action: String
    public let status: Int32

    public init(action: String, status: Int32) {
        self.action = action
        self.status = status
    }
    public var description: String { "scripts/stack.sh \(action) failed (wait status \(status))" }
}
