import FleetMessaging
import FleetRuntime
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A service executable run by a test, in the test vhost and Redis database.
///
/// It runs under a bash watchdog that sends it SIGTERM when the test process goes away, so no
/// service outlives the test run even when a test crashes.
public final class ServiceProcess: Sendable {
    public let name: String
    /// The watchdog's pid; the service is its only child.
    public let pid: pid_t
    public let logPath: String

    /// Where `swift build` put the executables (`FLEET_BIN_DIR`, else `.build/debug`).
    public static var binDirectory: String {
        ProcessInfo.processInfo.environment["FLEET_BIN_DIR"] ?? TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug").path
    }

    public init(_ executable: String, arguments: [String] = [], environment extra: [String: String] = [:]) throws {
        name = executable
        let binary = "\(Self.binDirectory)/\(executable)"
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw StackScriptError(action: "missing \(binary)", status: -1) }
        logPath = TestEnvironment.repositoryRoot.appendingPathComponent(".run/test-logs/\(executable)-\(UInt32.random(in: 0...UInt32.max)).log").path
        try FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // First it closes every descriptor it inherited past stderr: posix_spawn passes on whatever
        // the test process had open at that instant, such as the pipe through which Foundation's
        // Process (CommandRun) learns that its child ended; a long-lived service holding that pipe
        // kept the CommandRun of another test waiting for ever.
        let watchdog = """
            for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && { eval "exec $fd>&-"; } 2>/dev/null; done
            parent=$1; shift
            "$@" & child=$!
            trap 'kill -TERM $child 2>/dev/null' TERM
            while kill -0 "$parent" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.3; done
            kill -TERM $child 2>/dev/null; wait $child
            """
        var env = ProcessInfo.processInfo.environment
        env["FLEET_AMQP_URL"] = TestEnvironment.serviceAMQPURL
        env["FLEET_REDIS_URL"] = TestEnvironment.serviceRedisURL
        env["FLEET_LOG_LEVEL"] = "info"
        // Agents stopped at a test's end let what they hold finish for 2 s, not 30.
        env["FLEET_AGENT_STOP_GRACE_MS"] = "2000"
        for (k, v) in extra { env[k] = v }
        let argv: [UnsafeMutablePointer<CChar>?] =
            (["/bin/bash", "-c", watchdog, "watchdog", String(getpid()), binary] + arguments)
            .map { (s: String) in strdup(s) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { (k, v) in strdup("\(k)=\(v)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = SpawnAttributes()
        var spawned: pid_t = 0
        guard posix_spawn(&spawned, "/bin/bash", &actions, &attributes.value, argv, envp) == 0 else {
            throw StackScriptError(action: "spawn \(executable)", status: -1)
        }
        pid = spawned
        let vhostURL = env["FLEET_AMQP_URL"] ?? ""
        Self.running.withLock { $0[spawned] = vhostURL }
    }

    /// The watchdogs not yet reaped, with the broker URL (so the vhost) each service was given.
    private static let running = Mutex<[pid_t: String]>([:])

    /// Waits (bounded) until every service started on `amqpURL` has exited: a test that stopped
    /// its services in a `defer` (stop returns at once) must not leave them serving the vhost the
    /// next test of its slot starts on.
    public static func waitUntilGone(amqpURL: String, timeout: Duration = .seconds(30)) async {
        _ = await TestEnvironment.eventually(timeout: timeout) { running.withLock { !$0.values.contains(amqpURL) } }
    }

    /// Sends SIGTERM (through the watchdog) and waits for the exit, on a thread of its own (a
    /// drain can take seconds); returns the service's exit status.
    @discardableResult
    public func terminate() async -> Int32 {
        kill(pid, SIGTERM)
        return await Self.reap(pid)
    }

    /// Sends SIGTERM and returns at once; a thread of its own reaps the exit. For `defer`, which
    /// cannot await.
    public func stop() {
        kill(pid, SIGTERM)
        Task { [pid] in await Self.reap(pid) }
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits (bounded) until the service's log holds every one of `lines`, e.g. "serving": a
    /// started service, however long a loaded machine took to start it.
    public func waitForLog(_ lines: String..., timeout: Duration = .seconds(60)) async -> Bool {
        await TestEnvironment.eventually(timeout: timeout) { [self] in
            let text = log
            return lines.allSatisfy { text.contains($0) }
        }
    }

    /// SIGKILL to the service itself (no drain, no cleanup), then waits for the watchdog to notice.
    public func kill9() async {
        let children = "/proc/\(pid)/task/\(pid)/children"
        if let text = try? String(contentsOfFile: children, encoding: .utf8) {
            for child in text.split(separator: " ").compactMap({ pid_t($0) }) { kill(child, SIGKILL) }
        }
        await Self.reap(pid)
    }

    /// Waits for `pid` with a blocking waitpid off the cooperative pool; returns its exit status.
    @discardableResult
    static func reap(_ pid: pid_t) async -> Int32 {
        await OffPool.run("reap-\(pid)") {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            running.withLock { _ = $0.removeValue(forKey: pid) }
            return (status >> 8) & 0xff
        }
    }
}

extension TestEnvironment {
    /// The broker URL with the test vhost (made by `scripts/test.sh` with `scripts/stack.sh ensure-vhosts`).
    public static var serviceAMQPURL: String {
        ProcessInfo.processInfo.environment["FLEET_TEST_AMQP_URL"]
            ?? amqpURL.replacingOccurrences(of: "/%2f", with: "/fleet-test")
    }

    /// Redis database 5, which only the service tests use.
    public static var serviceRedisURL: String {
        ProcessInfo.processInfo.environment["FLEET_TEST_REDIS_URL"] ?? redisURL.replacingOccurrences(of: "/0", with: "/5")
    }
}

/// Spawn attributes with an empty signal mask and default handlers: posix_spawn otherwise copies
/// the calling thread's mask, and Swift's worker threads block SIGTERM, which the child would inherit.
struct SpawnAttributes: ~Copyable {
    var value = posix_spawnattr_t()

    init() {
        posix_spawnattr_init(&value)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&value, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&value, &defaults)
        posix_spawnattr_setflags(&value, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    }

    deinit {
        var copy = value  // glibc keeps no resources in it; destroy takes a pointer
        posix_spawnattr_destroy(&copy)
    }
}
