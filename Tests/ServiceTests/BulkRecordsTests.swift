import FleetCore
import FleetMessaging
import FleetRuntime
import Testing

/// The one parser of the dispatcher's per-host encoding (`status` or `status:reason`).
@Suite("bulk records: the host entry encoding")
struct BulkRecordsTests {
    @Test func everyStatusAndReasonRoundTrips() {
        for status in HostStatus.allCases {
            let entries =
                [BulkRecords.HostEntry(status: status, reason: nil)]
                + HostReason.allCases.filter { $0.status == status }.map { BulkRecords.HostEntry(status: status, reason: $0) }
            for entry in entries {
                #expect(BulkRecords.HostEntry(stored: entry.stored) == entry, "\(entry.stored)")
            }
        }
        #expect(BulkRecords.HostEntry(stored: "failed:exit_code") == BulkRecords.HostEntry(status: .failed, reason: .exitCode))
        #expect(BulkRecords.HostEntry(stored: "queued")?.reason == nil)
    }

    @Test func whatTheDispatcherNeverWritesIsNil() {
        for text in ["", "done", "failed:", "failed:no_such_reason", ":exit_code", "Failed:exit_code"] {
            #expect(BulkRecords.HostEntry(stored: text) == nil, "\(text)")
        }
    }
}
