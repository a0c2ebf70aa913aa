import FleetCore
import FleetMessaging
import FleetRuntime
import Foundation
import Testing

@Suite("JSON coding")
struct JSONCodingTests {
    @Test(arguments: [
        "{\"a\":1,\"b\":true,\"c\":false,\"d\":1.5,\"e\":null,\"f\":\"x\\/y\",\"g\":[0,1,\"0\"],\"h\":{\"i\":-7}}",
        "[]", "{}", "\"just a string\"", "0", "true", "[1e3, 123456789012345, -0.25]", "{\"ünï\":\"çødé \\u00e9\"}",
    ])
    func decodesLikeCodableAndRoundTrips(text: String) throws {
        let viaFoundation = try #require(JSONCoding.decode(Array(text.utf8)))
        let viaCodable = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(viaFoundation == viaCodable)
        #expect(JSONCoding.decode(JSONCoding.encode(viaFoundation)) == viaFoundation)
    }

    @Test func booleansAreNotNumbers() throws {
        #expect(JSONCoding.decode(Array("[true, 1, false, 0]".utf8)) == [.bool(true), .int(1), .bool(false), .int(0)])
        #expect(String(decoding: JSONCoding.encode(["b": true, "n": 1, "s": "a/b"]), as: UTF8.self) == "{\"b\":true,\"n\":1,\"s\":\"a/b\"}")
    }

    @Test func malformedIsNil() {
        #expect(JSONCoding.decode(Array("{not json".utf8)) == nil)
        #expect(JSONCoding.decode([]) == nil)
    }

    /// A hostile body nested far deeper than any request needs is refused whole: neither the
    /// parser nor the conversion recurses into it (which would overflow the stack).
    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(JSONCoding.decode(Array(deep.utf8)) == nil)
        let objects = String(repeating: "{\"not\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        #expect(JSONCoding.decode(Array(objects.utf8)) == nil)
    }
}
