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
            total.truncated = total.truncated || outcome.truncated
            if outcome.exitCode != 0 || outcome.timedOut { break }
        }
        (total.stdout, total.truncated) = Self.headAndTail(total.stdout)
        let (err, cut) = Self.headAndTail(total.stderr)
        total.stderr = err
        total.truncated = total.truncated || cut
        return total
    }

    /// Several steps' outputs, each already bounded, cut to head and tail once more.
    static func headAndTail(_ bytes: [UInt8]) -> ([UInt8], Bool) {
        var buffer = HeadTailBuffer(keep: keep)
        buffer.append(bytes)
        return (buffer.bytes, buffer.truncated)
    }

    /// What a child process sees of the agent's environment: PATH, HOME and LANG. Never a
    /// `FLEET_*` setting (the broker URL holds the agent's password) nor anything else it inherited.
    static func childEnvironment(_ parent: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        [
            "PATH=" + (parent["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME=" + (parent["HOME"] ?? "/"), "LANG=" + (parent["LANG"] ?? "C.UTF-8"),
        ]
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

    /// Never follows a symlink at the target or beside it: the target's directory is opened once,
    /// the temporary file is created in it with `O_EXCL | O_NOFOLLOW`, given its mode and owner
    /// through the open descriptor, synced, and renamed over the target with `renameat` (which
    /// replaces a symlink there instead of writing through it). A backup reads the old file with
    /// `O_NOFOLLOW` too: a symlink at the target is not backed up but refused.
    private func write(_ f: DeployFile) -> Outcome {
        let target = URL(fileURLWithPath: f.path)
        let name = target.lastPathComponent
        let temp = ".\(name).fleet-\(UUID().uuidString)"
        let dir = open(target.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return failure(f, "cannot open its directory", errno) }
        defer { close(dir) }
        if f.backup, let problem = backUp(name, in: dir) { return failure(f, problem, errno) }
        let fd = openat(dir, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return failure(f, "cannot create a temporary file beside it", errno) }
        var ok = f.content.withUnsafeBytes { writeAll(fd, $0) }
        ok = ok && fchmod(fd, mode_t(f.mode ?? 0o644)) == 0
        if ok, f.ownerUID != nil || f.ownerGID != nil {
            ok = fchown(fd, uid_t(truncatingIfNeeded: f.ownerUID ?? -1), gid_t(truncatingIfNeeded: f.ownerGID ?? -1)) == 0
        }
        ok = ok && fsync(fd) == 0
        let code = errno
        close(fd)
        guard ok, renameat(dir, temp, dir, name) == 0 else {
            let failed = ok ? errno : code
            unlinkat(dir, temp, 0)
            return failure(f, ok ? "cannot rename it into place" : "cannot write it", failed)
        }
        _ = fsync(dir)  // the rename itself survives a crash
        return Outcome(stdout: Array("wrote \(f.path) (\(f.content.count) bytes)\n".utf8))
    }

    /// Copies `name` (when it exists) to `name.bak` in `dir`, neither through a symlink; the
    /// problem, or nil.
    private func backUp(_ name: String, in dir: Int32) -> String? {
        let source = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if source < 0 { return errno == ENOENT ? nil : "cannot read the file to back up (a symlink is not followed)" }
        defer { close(source) }
        unlinkat(dir, name + ".bak", 0)
        let copy = openat(dir, name + ".bak", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard copy >= 0 else { return "cannot create the backup" }
        defer { close(copy) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n == 0 { break }
            guard n > 0, chunk.withUnsafeBytes({ writeAll(copy, UnsafeRawBufferPointer(rebasing: $0[..<n])) }) else { return "cannot copy the backup" }
        }
        var st = stat()
        if fstat(source, &st) == 0 { _ = fchmod(copy, st.st_mode & 0o7777) }
        return fsync(copy) == 0 ? nil : "cannot sync the backup"
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    private func failure(_ f: DeployFile, _ what: String, _ code: Int32) -> Outcome {
        Outcome(exitCode: 1, stderr: Array("cannot write \(f.path): \(what): \(String(cString: strerror(code)))".utf8))
    }

    /// Runs argv in a process group of its own, with the minimal environment, its output read
    /// from pipes into head-and-tail buffers as it comes (memory stays bounded, and no file on disk
    /// grows with it). posix_spawn rather than Foundation's Process: Process reports an exit only
    /// once every process holding its descriptors is gone, so a script's orphaned child would hold
    /// it up; here the pipes are read without blocking, and killing the group at the end (or at the
    /// deadline) takes the script's children with it.
    private func execNow(_ argv: [String], timeout: Duration, workingDirectory: URL? = nil) -> Outcome {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { return Outcome(exitCode: 127, stderr: Array("cannot make a pipe".utf8)) }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0])
            close(outPipe[1])
            return Outcome(exitCode: 127, stderr: Array("cannot make a pipe".utf8))
        }
        // Close-on-exec, so another step spawned meanwhile does not inherit them (pipe2 is not
        // visible to Swift here; a spawn between pipe and fcntl only delays nothing, as nothing
        // here waits for end of file).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
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
        let env: [UnsafeMutablePointer<CChar>?] = Self.childEnvironment().map { strdup($0) } + [nil]
        defer { (args + env).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, args, env)
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard spawned == 0 else { return Outcome(exitCode: 127, stderr: Array("cannot run \(argv.first ?? "")".utf8)) }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var out = HeadTailBuffer(keep: Self.keep)
        var err = HeadTailBuffer(keep: Self.keep)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        /// Reads what each pipe holds now (up to 4 MiB each, so a child that never stops printing
        /// cannot keep this thread from its deadline), never waiting for more.
        func drain() {
            for (fd, isOut) in [(outPipe[0], true), (errPipe[0], false)] {
                for _ in 0..<64 {
                    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    guard n > 0 else { break }
                    chunk.withUnsafeBytes { b in
                        let part = UnsafeRawBufferPointer(rebasing: b[..<n])
                        if isOut { out.append(part) } else { err.append(part) }
                    }
                }
            }
        }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        var timedOut = false
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        while true {
            // This thread is the step's own; a 10 ms poll bounds how late a kill is.
            _ = poll(&fds, nfds_t(fds.count), 10)
            drain()
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            if !timedOut, ContinuousClock.now >= deadline {
                timedOut = true
                kill(-pid, SIGKILL)  // the whole group: the script and whatever it started
            }
        }
        if !timedOut { kill(-pid, SIGKILL) }  // leave no orphans behind a finished step
        drain()
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(exitCode: exitCode, stdout: out.bytes, stderr: err.bytes, timedOut: timedOut, truncated: out.truncated || err.truncated)
    }
}
