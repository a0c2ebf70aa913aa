/// Where the page before ended in a newest-first index (a sorted set of record ids scored by
/// creation time): that entry's score and id, as `<score>.<id>`.
///
/// The score travels with the id so a page still follows when the record it ended on has since
/// expired or been deleted: paging never depends on the cursor's record still being there.
public struct IndexCursor: Hashable, Sendable {
    public let score: Int64
    public let id: String

    public init(score: Int64, id: String) {
        self.score = score
        self.id = id
    }

    public static let rule = "<score>.<id> as a page's next_cursor gives it"

    public var text: String { "\(score).\(id)" }

    /// Parses `text`; nil unless it is a non-negative integer, a dot and a record id.
    public init?(text: String) {
        guard let dot = text.firstIndex(of: "."), case let digits = text[..<dot], !digits.isEmpty, digits.count <= 19,
            digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let score = Int64(digits)
        else { return nil }
        let id = String(text[text.index(after: dot)...])
        guard RecordID.isValid(id) else { return nil }
        self.init(score: score, id: id)
    }

    /// `json` as a cursor, or a 422 naming `field`; nil when absent (or null).
    public static func optional(_ json: JSONValue?, field: String = "cursor") throws(ValidationError) -> IndexCursor? {
        guard let json, json != .null else { return nil }
        guard let text = json.stringValue, let cursor = IndexCursor(text: text) else {
            throw ValidationError(field, .invalidValue, "\(field) must be \(rule)")
        }
        return cursor
    }

    /// Whether an entry comes after this cursor in newest-first order: Redis orders a sorted set by
    /// score, then by the members' bytes, so reversed that is a lower score, or the same score and
    /// an id whose bytes sort lower.
    public func precedes(score other: Int64, id otherID: String) -> Bool {
        other < score || (other == score && Array(otherID.utf8).lexicographicallyPrecedes(Array(id.utf8)))
    }
}
