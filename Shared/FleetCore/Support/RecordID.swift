/// The one grammar of every id an operator or a client may choose (hosts, groups, schedules):
/// 1-128 characters of `[A-Za-z0-9._:-]`. Nothing else, so an id never breaks an encoding that
/// joins ids with another character (`|`, space, `/`) and is safe in a URL path and a Redis key.
public enum RecordID {
    public static let rule = "1-128 characters of [A-Za-z0-9._:-]"

    public static func isValid(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
            }
    }

    /// `json` as an id, or a 422 naming `field`; nil when absent (or null).
    public static func optional(_ json: JSONValue?, field: String) throws(ValidationError) -> String? {
        guard let json, json != .null else { return nil }
        guard let s = json.stringValue, isValid(s) else { throw ValidationError(field, .invalidValue, "\(field) must be \(rule)") }
        return s
    }
}
