import FleetCore
import FleetMessaging
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What this agent already ran, keyed by operation, host and attempt, with the result it reported.
/// A redelivered command (the broker is at-least-once) gets the recorded result again instead of
/// running twice. One JSON line per entry (`key`, `result`, `at`), appended before the result is
/// published, in a file only the agent's user can read (0600: results hold command output).
///
/// Compacted at start and every `compactEvery` records: an entry older than `retention` (a day)
/// goes, since the dispatcher stops redelivering a command long before that (its delivery timeout
/// is at most a day), so the file holds about a day of work, not the agent's whole life.
final class Journal: Sendable {
    static let retention: TimeInterval = 86_400
    static let compactEvery = 1_000
    private let path: String
    private let state: Mutex<State>

    private struct Entry {
        var result: JSONValue
        var at: TimeInterval
    }

    private struct State {
        var entries: [String: Entry]
        var sinceCompaction = 0
    }

    init(directory: String, now: Date = Date()) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = (directory as NSString).appendingPathComponent("journal.jsonl")
        var loaded: [String: Entry] = [:]
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let e = JSONCoding.decode(Array(line.utf8)), let key = e["key"]?.stringValue, let result = e["result"] else { continue }
                // An entry of an older agent has no time: it counts from this start.
                loaded[key] = Entry(result: result, at: e["at"]?.doubleValue ?? now.timeIntervalSince1970)
            }
        }
        var state = State(entries: loaded)
        Self.compact(&state, path: path, now: now)
        self.state = Mutex(state)
    }

    func result(for key: String) -> JSONValue? { state.withLock { $0.entries[key]?.result } }

    func record(_ key: String, _ result: JSONValue, now: Date = Date()) {
        let at = now.timeIntervalSince1970
        let line = Self.line(key, Entry(result: result, at: at))
        state.withLock { s in
            s.entries[key] = Entry(result: result, at: at)
            Self.append(line, to: path)
            s.sinceCompaction += 1
            if s.sinceCompaction >= Self.compactEvery { Self.compact(&s, path: path, now: now) }
        }
    }

    /// One entry as the file holds it: a JSON object and a newline.
    private static func line(_ key: String, _ e: Entry) -> [UInt8] {
        JSONCoding.encode(["key": .string(key), "result": e.result, "at": .double(e.at)]) + [10]
    }

    private static func append(_ line: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _ = fsync(fd)
        close(fd)
    }

    /// Drops entries past the retention and rewrites the file through a temporary one and a
    /// rename, so a crash leaves the old file or the new one, never half of either.
    private static func compact(_ s: inout State, path: String, now: Date) {
        let cutoff = now.timeIntervalSince1970 - retention
        s.entries = s.entries.filter { $0.value.at >= cutoff }
        s.sinceCompaction = 0
        let temp = path + ".compacting"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        var ok = true
        for (key, e) in s.entries.sorted(by: { $0.value.at < $1.value.at }) {
            let line = Self.line(key, e)
            ok = ok && line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == line.count
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        if ok { rename(temp, path) } else { unlink(temp) }
    }

    /// The file's permission bits (for tests and the threat model's claim).
    var fileMode: mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o777 : nil
    }

    /// How many entries the file holds now.
    var storedEntries: Int { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count }
}
