import Foundation

/// JSON bytes <-> `JSONValue`, the one way services read and write bodies.
///
/// Each direction takes the faster of Foundation's two ways, measured on Linux (Swift 6.3):
/// decoding through JSONSerialization, since decoding `JSONValue` with Codable must try each type
/// in turn and pays for a thrown error on every miss (a reply of 2,652 host ids: 0.76 ms against
/// 6.9 ms); encoding through JSONEncoder, which writes 3-5x faster than JSONSerialization
/// (the same reply: 1.1 ms against 3.6 ms; 5,000 small hosts: 31 ms against 145 ms).
public enum JSONCoding {
    public static func decode(_ bytes: [UInt8]) -> JSONValue? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return nil }
        return JSONValue(foundation: object)
    }

    public static func encode(_ value: JSONValue) -> [UInt8] {
        Array((try? encoder.encode(value)) ?? Data("null".utf8))
    }

    /// Foundation declares JSONEncoder Sendable; its settings are fixed here and never changed.
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

extension JSONValue {
    /// The class of the NSNumbers Foundation makes for booleans.
    private static let booleanNumberClass: NSNumber.Type = type(of: NSNumber(value: true))

    /// From what JSONSerialization returns.
    init?(foundation object: Any) {
        switch object {
        case is NSNull:
            self = .null
        case let s as String:
            self = .string(s)
        case let n as NSNumber:
            // Booleans arrive as NSNumbers too; only their class tells them apart from 0 and 1. It
            // is compared with the class Foundation itself gives a Bool, not with a private name.
            if type(of: n) == Self.booleanNumberClass {
                self = .bool(n.boolValue)
            } else if let type = String(validatingCString: n.objCType), type == "d" || type == "f" {
                // 1e3 is an integer to Codable too; keep the two decoders in agreement.
                let d = n.doubleValue
                self = d.rounded() == d && abs(d) < 9.0e15 ? .int(Int64(d)) : .double(d)
            } else {
                // Integers as large as 9e15 are exact; past that (or past Int64, which int64Value
                // would wrap) they are doubles, as the double branch makes them, so intValue
                // refuses them alike whichever way they were spelled.
                let d = n.doubleValue
                self = abs(d) < 9.0e15 ? .int(n.int64Value) : .double(d)
            }
        case let a as [Any]:
            var items: [JSONValue] = []
            items.reserveCapacity(a.count)
            for x in a {
                guard let v = JSONValue(foundation: x) else { return nil }
                items.append(v)
            }
            self = .array(items)
        case let o as [String: Any]:
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(o.count)
            for (k, x) in o {
                guard let v = JSONValue(foundation: x) else { return nil }
                out[k] = v
            }
            self = .object(out)
        default:
            return nil
        }
    }
}
