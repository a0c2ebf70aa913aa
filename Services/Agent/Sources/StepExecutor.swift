import FleetCore
import FleetMessaging
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs AgentSteps on this host: programs as argv through /usr/bin/env (which only resolves PATH;
/// no shell ever sees the arguments), scripts from a private temporary file, files written
/// atomically. Output is kept head and tail, 64 KiB each.
///
/// Everything that blocks (the process wait, file writes with fsync) runs on a thread of its own
/// (`OffPool`), never on the cooperative pool: a step's timeout is enforced by that thread, so it
/// fires on time however busy the agent's tasks are.
struct StepExecutor: Sendable {
    static let keep = 64 * 1024

    struct Outcome: Sendable {
        var exitCode: Int32 = 0
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var timedOut = false
        var truncated = false
    }

    /// Runs the steps in order, stopping at the first that fails; `timeout` bounds them all.
    func run(_ steps: [AgentStep], timeout: Duration) async -> Outcome {
        await OffPool.run("agent-steps") { runNow(steps, timeout: timeout) }
    }

    func exec(_ argv: [String], timeout: Duration) async -> Outcome {
        await OffPool.run("agent-exec") { execNow(argv, timeout: timeout) }
    }

    func script(_ shell: Shell, _ content: String, timeout: Duration) async -> Outcome {
        await OffPool.run("agent-script") { scriptNow(shell, content, timeout: timeout) }
    }

    private func runNow(_ steps: [AgentStep], timeout: Duration) -> Outcome {
        var total = Outcome()
        let deadline = ContinuousClock.now + timeout
        for step in steps {
            let left = ContinuousClock.now.duration(to: deadline)
            let outcome: Outcome
            switch step {
            case .exec(let argv): outcome = execNow(argv, timeout: left)
            case .script(let shell, let content): outcome = scriptNow(shell, content, timeout: left)
            case .writeFile(let file): outcome = write(file)
            case .power(let argv, let delay):
                // Reported as succeeded now; the action runs after the result is sent.
                Task.detached {
                    try? await Task.sleep(for: .seconds(delay))
                    _ = await StepExecutor().exec(argv, timeout: .seconds(60))
                }
                outcome = Outcome(stdout: Array("scheduled in \(delay) s: \(argv.joined(separator: " "))\n".utf8))
            }
            total.stdout += outcome.stdout
            total.stderr += outcome.stderr
            total.exitCode = outcome.exitCode
            total.timedOut = outcome.timedOut
            if outcome.exitCode != 0 || outcome.timedOut { break }
        }
        (total.stdout, total.truncated) = Self.headAndTail(total.stdout)
        let (err, cut) = Self.headAndTail(total.stderr)
        total.stderr = err
        total.truncated = total.truncated || cut
        return total
    }

    static func headAndTail(_ bytes: [UInt8]) -> ([UInt8], Bool) {
        guard bytes.count > 2 * keep else { return (bytes, false) }
        return (Array(bytes.prefix(keep)) + Array("\n[... truncated ...]\n".utf8) + Array(bytes.suffix(keep)), true)
    }

    private func scriptNow(_ shell: Shell, _ content: String, timeout: Duration) -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-agent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let file = dir.appendingPathComponent("script.\(shell.fileExtension)")
            try Data(content.utf8).write(to: file)
            return execNow(shell.argv(scriptPath: file.path), timeout: timeout, workingDirectory: dir)
        } catch {
            return Outcome(exitCode: 126, stderr: Array("cannot write the script: \(error)".utf8))
        }
    }

    /// Temporary file beside the target, fsync, rename over it; then mode and owner.
    private func write(_ f: DeployFile) -> Outcome {
        let target = URL(fileURLWithPath: f.path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).fleet-\(UUID().uuidString)")
        do {
            if f.backup, FileManager.default.fileExists(atPath: f.path) {
                _ = try? FileManager.default.removeItem(atPath: f.path + ".bak")
                try FileManager.default.copyItem(atPath: f.path, toPath: f.path + ".bak")
            }
            let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL, mode_t(f.mode ?? 0o644))
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            let written = f.content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd)
            close(fd)
            guard written == f.content.count, synced == 0 else { throw POSIXError(.EIO) }
            if let mode = f.mode { chmod(temp.path, mode_t(mode)) }
            if f.ownerUID != nil || f.ownerGID != nil {
                guard chown(temp.path, uid_t(truncatingIfNeeded: f.ownerUID ?? -1), gid_t(truncatingIfNeeded: f.ownerGID ?? -1)) == 0 else {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
                }
            }
            guard rename(temp.path, f.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return Outcome(stdout: Array("wrote \(f.path) (\(f.content.count) bytes)\n".utf8))
        } catch {
            try? FileManager.default.removeItem(at: temp)
            return Outcome(exitCode: 1, stderr: Array("cannot write \(f.path): \(error)".utf8))
        }
    }

    /// Runs argv in a process group of its own, output to temporary files (no pipe to fill up).
    /// posix_spawn rather than Foundation's Process: Process reports an exit only once every
    /// process holding its descriptors is gone, so a script's orphaned child would hold it up, and
    /// killing the group at the deadline takes the script's children with it.
    private func execNow(_ argv: [String], timeout: Duration, workingDirectory: URL? = nil) -> Outcome {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-out-\(UUID().uuidString)").path
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-err-\(UUID().uuidString)").path
        defer {
            unlink(out)
            unlink(err)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        // GNU env changes directory itself (posix_spawn's addchdir is not visible to Swift here).
        let chdir = workingDirectory.map { ["--chdir=\($0.path)"] } ?? []
        let args: [UnsafeMutablePointer<CChar>?] = (["/usr/bin/env"] + chdir + argv).map { strdup($0) } + [nil]
        defer { args.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, args, environ) == 0 else {
            return Outcome(exitCode: 127, stderr: Array("cannot run \(argv.first ?? "")".utf8))
        }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        var timedOut = false
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            if !timedOut, ContinuousClock.now >= deadline {
                timedOut = true
                kill(-pid, SIGKILL)  // the whole group: the script and whatever it started
            }
            usleep(10_000)  // this thread is the step's own; a 10 ms poll bounds how late a kill is
        }
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if !timedOut { kill(-pid, SIGKILL) }  // leave no orphans behind a finished step
        return Outcome(
            exitCode: exitCode, stdout: Array(FileManager.default.contents(atPath: out) ?? Data()),
            stderr: Array(FileManager.default.contents(atPath: err) ?? Data()), timedOut: timedOut)
    }
}
