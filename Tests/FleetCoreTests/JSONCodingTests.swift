import Foundation
import PropertyBased
import Testing

@testable import FleetCore

/// FleetCore's own JSON reader and writer against the Foundation ways they replaced: the writer
/// must spell every value as JSONEncoder (sorted keys, slashes unescaped) did, byte for byte, and
/// the reader must read what JSONSerialization read, as the same JSONValue, and refuse the rest.
@Suite("JSON coding")
struct JSONCodingTests {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Characters a body can hold that need care: quotes, backslashes, slashes, every control
    /// character, DEL, multi-byte and astral scalars, a decomposed accent, U+2028.
    static let alphabet: [String] =
        ["a", "Z", "0", " ", "\"", "\\", "/", "\u{7f}", "é", "e\u{301}", "\u{2028}", "😀", "\u{fffd}", "_", "-"]
        + (0..<0x20).map { String(Character(Unicode.Scalar(UInt8($0)))) }
    static let doubles: [Double] = [0.5, -1.25, 1e-7, 1e21, 123456789.125, 0.1, 1e300, 5e-324, 2.5e15, 1e16, 9e15, 1e15 + 0.5, -3.75e-100]

    /// A JSONValue built from a list of numbers (so the generator shrinks as a list does).
    struct Builder {
        var seeds: [Int]
        var k = 0
        mutating func next() -> Int {
            defer { k += 1 }
            return seeds.isEmpty ? 0 : seeds[k % seeds.count]
        }
        mutating func string() -> String {
            (0..<(next() % 6)).map { _ in alphabet[next() % alphabet.count] }.joined()
        }
        mutating func value(depth: Int) -> JSONValue {
            let budget = seeds.count - k
            switch next() % (depth > 3 || budget < 2 ? 6 : 8) {
            case 0: return .null
            case 1: return .bool(next() % 2 == 0)
            case 2: return .int(Int64(next()) * (next() % 2 == 0 ? 1 : -1_000_003))
            case 3: return .double(doubles[next() % doubles.count])
            case 4, 5: return .string(string())
            case 6: return .array((0..<(next() % 4)).map { _ in value(depth: depth + 1) })
            default:
                var o: [String: JSONValue] = [:]
                for _ in 0..<(next() % 4) { o[string()] = value(depth: depth + 1) }
                return .object(o)
            }
        }
    }

    static let valueGen = Gen.int(in: 0...1_000_000).array(of: 1...60).map { seeds -> JSONValue in
        var b = Builder(seeds: seeds)
        return b.value(depth: 0)
    }

    /// What JSONCoding.decode was before: JSONSerialization, then its Foundation objects as JSONValue.
    static func foundationDecode(_ bytes: [UInt8]) -> JSONValue? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return nil }
        return fromFoundation(object)
    }

    static let booleanNumberClass: NSNumber.Type = type(of: NSNumber(value: true))
    static func fromFoundation(_ object: Any) -> JSONValue? {
        switch object {
        case is NSNull: return .null
        case let s as String: return .string(s)
        case let n as NSNumber:
            if type(of: n) == booleanNumberClass { return .bool(n.boolValue) }
            let d = n.doubleValue
            if let t = String(validatingCString: n.objCType), t == "d" || t == "f" {
                return d.rounded() == d && abs(d) < 9.0e15 ? .int(Int64(d)) : .double(d)
            }
            return abs(d) < 9.0e15 ? .int(n.int64Value) : .double(d)
        case let a as [Any]:
            var items: [JSONValue] = []
            for x in a {
                guard let v = fromFoundation(x) else { return nil }
                items.append(v)
            }
            return .array(items)
        case let o as [String: Any]:
            var out: [String: JSONValue] = [:]
            for (k, x) in o {
                guard let v = fromFoundation(x) else { return nil }
                out[k] = v
            }
            return .object(out)
        default: return nil
        }
    }

    @Test func theWriterSpellsEveryValueAsJSONEncoderDid() async {
        await propertyCheck(count: 400, input: Self.valueGen) { value in
            let ours = JSONCoding.encode(value)
            let foundation = Array(try! Self.encoder.encode(value))
            #expect(ours == foundation, "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: foundation, as: UTF8.self))")
        }
    }

    /// What a value reads back as: integral doubles below 9e15 become integers.
    static func normalized(_ v: JSONValue) -> JSONValue {
        switch v {
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return .int(Int64(d))
        case .array(let a): return .array(a.map(normalized))
        case .object(let o): return .object(o.mapValues(normalized))
        default: return v
        }
    }

    static func hasDouble(_ v: JSONValue) -> Bool {
        switch v {
        case .double: return true
        case .array(let a): return a.contains(where: hasDouble)
        case .object(let o): return o.values.contains(where: hasDouble)
        default: return false
        }
    }

    @Test func theReaderReadsWhatJSONSerializationRead() async {
        await propertyCheck(count: 400, input: Self.valueGen) { value in
            let text = Array(try! Self.encoder.encode(value))
            let ours = JSONCoding.decode(text)
            #expect(ours == Self.normalized(value))
            // Foundation's reader rounds some doubles wrongly (1000000000000000.5 reads as
            // ...0.4); ours reads them exactly, so it is the oracle only where there are none.
            if !Self.hasDouble(value) { #expect(ours == Self.foundationDecode(text)) }
            // And a second trip through both of ours changes nothing.
            #expect(ours.map { JSONCoding.decode(JSONCoding.encode($0)) } == ours)
        }
    }

    @Test(arguments: [
        ("  {\"a\" : [ 1 , 2.5 , true , null ] }\n", JSONValue.object(["a": [1, .double(2.5), true, .null]])),
        ("\u{feff}7", .int(7)),
        ("\"\\ud83d\\ude00 \\u00e9\\/\\b\\f\\n\\r\\t\"", .string("😀 é/\u{8}\u{c}\n\r\t")),
        ("-0", .int(0)),
        ("8999999999999999", .int(8_999_999_999_999_999)),
        ("9000000000000000", .double(9e15)),
        ("18446744073709551616", .double(18_446_744_073_709_551_616)),
        ("1.0", .int(1)),
        ("1E2", .int(100)),
        ("-2.5e-3", .double(-0.0025)),
        ("{\"k\":1,\"k\":2}", .object(["k": 2])),
    ])
    func readsTheseAsThis(_ text: String, _ expected: JSONValue) {
        #expect(JSONCoding.decode(Array(text.utf8)) == expected)
    }

    @Test(arguments: [
        "", " ", "[1,]", "[1 2]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{\"a\":1,}", "01", "1.", ".5", "-", "+1", "1e", "1e+",
        "tru", "nul", "falsey", "[1] x", "\"open", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"tab\there\"", "1e400", "-1e400", "NaN", "Infinity", "[", "{", "]",
    ])
    func refusesThis(_ text: String) {
        #expect(JSONCoding.decode(Array(text.utf8)) == nil)
    }

    @Test func refusesInvalidUTF8AndBoundsNesting() {
        #expect(JSONCoding.decode([0x22, 0xFF, 0x22]) == nil)
        #expect(JSONCoding.decode([0x22, 0xC3, 0x22]) == nil)
        #expect(JSONCoding.decode([0x22, 0xC3, 0xA9, 0x22]) == .string("é"))
        let limit = JSONParser.maxDepth
        #expect(JSONCoding.decode(Array((String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)).utf8)) != nil)
        #expect(JSONCoding.decode(Array((String(repeating: "[", count: limit + 2) + String(repeating: "]", count: limit + 2)).utf8)) == nil)
        // A hostile body of a million brackets is refused, not a stack overflow.
        #expect(JSONCoding.decode([UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)) == nil)
    }

    @Test(arguments: [
        "{\"a\":1,\"b\":true,\"c\":false,\"d\":1.5,\"e\":null,\"f\":\"x\\/y\",\"g\":[0,1,\"0\"],\"h\":{\"i\":-7}}",
        "[]", "{}", "\"just a string\"", "0", "true", "[1e3, 123456789012345, -0.25]", "{\"ünï\":\"çødé \\u00e9\"}",
    ])
    func decodesLikeCodableAndRoundTrips(text: String) throws {
        let ours = try #require(JSONCoding.decode(Array(text.utf8)))
        #expect(ours == (try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))))
        #expect(JSONCoding.decode(JSONCoding.encode(ours)) == ours)
    }

    @Test func booleansAreNotNumbers() throws {
        #expect(JSONCoding.decode(Array("[true, 1, false, 0]".utf8)) == [.bool(true), .int(1), .bool(false), .int(0)])
        #expect(String(decoding: JSONCoding.encode(["b": true, "n": 1, "s": "a/b"]), as: UTF8.self) == "{\"b\":true,\"n\":1,\"s\":\"a/b\"}")
    }

    /// A hostile body nested far deeper than any request needs is refused whole, objects as arrays.
    @Test func deepObjectsAreRefusedNotACrash() {
        let objects = String(repeating: "{\"not\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        #expect(JSONCoding.decode(Array(objects.utf8)) == nil)
    }

    @Test func aNonFiniteDoubleIsWrittenAsNull() {
        #expect(JSONCoding.encode(["x": .double(.infinity), "y": 1]) == Array("{\"x\":null,\"y\":1}".utf8))
    }
}
