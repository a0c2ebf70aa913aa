import FleetCore
import Foundation

/// Where the benchmarks leave their figures for scripts/bench_report.py: one JSON line per figure
/// (`{"name", "value", "unit", "count"?}`) appended to `$BENCH_FACTS`. Unset: nothing is written,
/// and the printed lines are all there is.
public enum BenchFacts {
    public static func record(_ name: String, _ value: Double, _ unit: String, count: Int? = nil) {
        guard let path = ProcessInfo.processInfo.environment["BENCH_FACTS"] else { return }
        var o: [String: JSONValue] = ["name": .string(name), "value": .double(value), "unit": .string(unit)]
        if let count { o["count"] = .int(Int64(count)) }
        let line = Data(JSONCoding.encode(.object(o)) + Array("\n".utf8))
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(line)
            handle.closeFile()
        } else {
            FileManager.default.createFile(atPath: path, contents: line)
        }
    }
}
