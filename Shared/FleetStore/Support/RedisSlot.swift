/// Redis Cluster's key space: 16,384 hash slots, a key's slot the CRC16 (XMODEM: polynomial
/// 0x1021, initial value 0, no reflection) of the key, or of its hash tag, modulo 16,384. The hash
/// tag is what lies between the first `{` and the first `}` after it, when that is not empty: so
/// `fleet:bulk:{op-1}:hosts` and `fleet:bulk:{op-1}:progress` share a slot, which is what lets a Lua
/// script touch both (the Redis Cluster specification, "Keys distribution model").
public enum RedisSlot {
    public static let count = 16_384

    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    public static func of(_ key: [UInt8]) -> Int {
        key.withUnsafeBufferPointer { Int(crc16(hashed(in: $0)) & 0x3FFF) }
    }

    /// The part of the key that is hashed: its hash tag, or all of it.
    static func hashed(in key: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key }
        let rest = UnsafeBufferPointer(rebasing: key[(open + 1)...])
        guard let close = rest.firstIndex(of: UInt8(ascii: "}")), close > 0 else { return key }
        return UnsafeBufferPointer(rebasing: rest[..<close])
    }

    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))] }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { n in
        var crc = UInt16(n) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
