import FleetCore
import FleetMessaging
import Foundation
import Synchronization

/// What this agent already ran, keyed by operation, host and attempt, with the result it reported.
/// A redelivered command (the broker is at-least-once) gets the recorded result again instead of
/// running twice. One JSON line per entry, appended before the result is published.
final class Journal: Sendable {
    private let path: String
    private let entries: Mutex<[String: JSONValue]>

    init(directory: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("journal.jsonl")
        var loaded: [String: JSONValue] = [:]
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if let e = JSONCoding.decode(Array(line.utf8)), let key = e["key"]?.stringValue, let result = e["result"] { loaded[key] = result }
            }
        }
        entries = Mutex(loaded)
    }

    func result(for key: String) -> JSONValue? { entries.withLock { $0[key] } }

    func record(_ key: String, _ result: JSONValue) {
        let line = JSONCoding.encode(["key": .string(key), "result": result]) + [10]
        entries.withLock { e in
            e[key] = result
            if let handle = FileHandle(forWritingAtPath: path)
                ?? {
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                    return FileHandle(forWritingAtPath: path)
                }()
            {
                handle.seekToEndOfFile()
                handle.write(Data(line))
                try? handle.synchronize()
                try? handle.close()
            }
        }
    }
}
