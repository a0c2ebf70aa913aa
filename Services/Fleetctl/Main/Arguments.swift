import ArgumentParser
import FleetCore

// Closed choices as enums, so help and shell completion list their values and a typo is a usage
// error (exit 64) before anything is sent. The values are FleetCore's, the API's own.
extension OperationType: ExpressibleByArgument {}
extension AggregateStatus: ExpressibleByArgument {}
extension RolloutStatus: ExpressibleByArgument {}
extension HostStatus: ExpressibleByArgument {}
extension ScheduleRunStatus: ExpressibleByArgument {}
extension ScheduleState: ExpressibleByArgument {}
extension ScheduleRequest.MisfirePolicy: ExpressibleByArgument {}
extension ScheduleRequest.OverlapPolicy: ExpressibleByArgument {}
extension LockConflict: ExpressibleByArgument {}

/// Paging flags of every list: the page size and the `next_cursor` of the page before.
struct PageFlags: ParsableArguments {
    @Option(help: "At most this many per page.") var limit: Int?
    @Option(help: "The next page: the cursor the page before printed.") var cursor: String?

    /// `path` with the page's query, and `status` when given.
    func path(_ path: String, status: String? = nil) -> String {
        var q: [String] = []
        if let status { q.append("status=\(seg(status))") }
        if let limit { q.append("limit=\(limit)") }
        if let cursor { q.append("cursor=\(seg(cursor))") }
        return path + (q.isEmpty ? "" : "?" + q.joined(separator: "&"))
    }
}
