/// JSON bytes <-> `JSONValue`, the one way services read and write bodies.
///
/// Both directions are FleetCore's own (JSONParser, JSONWriter): Foundation's ways cost far more
/// than the work on Linux (Swift 6.3). JSONSerialization's NSArray/NSDictionary trees must be cast
/// back element by element, and JSONEncoder reaches every value through Codable's generic
/// containers; on a select reply of 26,530 host ids, decoding and encoding were most of the bus
/// hop (README "Performance", with the profile). The writer spells everything as JSONEncoder
/// with sorted keys did, byte for byte, so stored records, fixtures and hashes do not change.
public enum JSONCoding {
    public static func decode(_ bytes: [UInt8]) -> JSONValue? {
        JSONParser.parse(bytes)
    }

    public static func encode(_ value: JSONValue) -> [UInt8] {
        JSONWriter.write(value)
    }
}
