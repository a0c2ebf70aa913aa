/// Encodable -> `JSONValue` directly, without writing bytes and reading them back: the value equals
/// `JSONCoding.decode(JSONEncoder().encode(x))` (JSONValueEncoderTests checks it on the contract
/// messages), but costs one walk of the value. A typed reply (26,530 host ids in a select) was
/// encoded, written, parsed and then written again before this.
///
/// Numbers follow the reader's rule (an integral double below 9e15 in magnitude is `.int`), so
/// nothing that reads the result can tell which way it was made. Only what the contract types
/// use is supported: no Data, Date or URL strategies (none of them is in a message).
public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = Slot()
        try put(value, into: root, path: [])
        return root.built ?? .object([:])
    }

    /// Where one encoded value goes: filled once, or built up as an array or object.
    final class Slot {
        var value: JSONValue?
        var array: [Slot]?
        var object: [String: Slot]?

        var built: JSONValue? {
            if let array { return .array(array.map { $0.built ?? .null }) }
            if let object { return .object(object.compactMapValues(\.built)) }
            return value
        }
    }

    struct ValueEncoder: Encoder {
        let slot: Slot
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if slot.object == nil { slot.object = [:] }
            return KeyedEncodingContainer(Keyed<Key>(slot: slot, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if slot.array == nil { slot.array = [] }
            return Unkeyed(slot: slot, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(slot: slot, codingPath: codingPath) }
    }

    /// As the reader makes it: past 9e15 in magnitude an integer is a double.
    static func integer<I: BinaryInteger>(_ v: I) -> JSONValue {
        if let x = Int64(exactly: v), x.magnitude < 9_000_000_000_000_000 { return .int(x) }
        return .double(Double(v))
    }

    /// The one rule for a double, the reader's and this encoder's alike.
    static func number(_ d: Double) -> JSONValue {
        d.isFinite && d.rounded() == d && abs(d) < 9.0e15 ? .int(Int64(d)) : .double(d)
    }

    /// Encodes `value` into `slot`: JSONValue as it is, everything else through its Encodable.
    static func put<T: Encodable>(_ value: T, into slot: Slot, path: [any CodingKey]) throws {
        if let json = value as? JSONValue {
            slot.value = json
        } else if let strings = value as? [String] {
            // Host id lists (tens of thousands in a select reply) skip a slot per element.
            slot.value = .array(strings.map(JSONValue.string))
        } else {
            try value.encode(to: ValueEncoder(slot: slot, codingPath: path))
            if slot.value == nil, slot.array == nil, slot.object == nil { slot.object = [:] }
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let slot: Slot
        let codingPath: [any CodingKey]

        private func child(_ key: Key) -> Slot {
            let s = Slot()
            slot.object![key.stringValue] = s
            return s
        }
        private func set(_ v: JSONValue, _ key: Key) { child(key).value = v }

        mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { set(number(value), key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { set(number(Double(value)), key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try put(value, into: child(key), path: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let s = child(key)
            s.object = [:]
            return KeyedEncodingContainer(Keyed<NestedKey>(slot: s, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let s = child(key)
            s.array = []
            return Unkeyed(slot: s, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> any Encoder { ValueEncoder(slot: childNamed("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { ValueEncoder(slot: child(key), codingPath: codingPath + [key]) }
        private func childNamed(_ name: String) -> Slot {
            let s = Slot()
            slot.object![name] = s
            return s
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]
        var count: Int { slot.array!.count }

        private func next() -> Slot {
            let s = Slot()
            slot.array!.append(s)
            return s
        }
        private func add(_ v: JSONValue) { next().value = v }

        mutating func encodeNil() throws { add(.null) }
        mutating func encode(_ value: Bool) throws { add(.bool(value)) }
        mutating func encode(_ value: String) throws { add(.string(value)) }
        mutating func encode(_ value: Double) throws { add(number(value)) }
        mutating func encode(_ value: Float) throws { add(number(Double(value))) }
        mutating func encode(_ value: Int) throws { add(integer(value)) }
        mutating func encode(_ value: Int8) throws { add(integer(value)) }
        mutating func encode(_ value: Int16) throws { add(integer(value)) }
        mutating func encode(_ value: Int32) throws { add(integer(value)) }
        mutating func encode(_ value: Int64) throws { add(integer(value)) }
        mutating func encode(_ value: UInt) throws { add(integer(value)) }
        mutating func encode(_ value: UInt8) throws { add(integer(value)) }
        mutating func encode(_ value: UInt16) throws { add(integer(value)) }
        mutating func encode(_ value: UInt32) throws { add(integer(value)) }
        mutating func encode(_ value: UInt64) throws { add(integer(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try put(value, into: next(), path: codingPath)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let s = next()
            s.object = [:]
            return KeyedEncodingContainer(Keyed<NestedKey>(slot: s, codingPath: codingPath))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let s = next()
            s.array = []
            return Unkeyed(slot: s, codingPath: codingPath)
        }
        mutating func superEncoder() -> any Encoder { ValueEncoder(slot: next(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { slot.value = .null }
        mutating func encode(_ value: Bool) throws { slot.value = .bool(value) }
        mutating func encode(_ value: String) throws { slot.value = .string(value) }
        mutating func encode(_ value: Double) throws { slot.value = number(value) }
        mutating func encode(_ value: Float) throws { slot.value = number(Double(value)) }
        mutating func encode(_ value: Int) throws { slot.value = integer(value) }
        mutating func encode(_ value: Int8) throws { slot.value = integer(value) }
        mutating func encode(_ value: Int16) throws { slot.value = integer(value) }
        mutating func encode(_ value: Int32) throws { slot.value = integer(value) }
        mutating func encode(_ value: Int64) throws { slot.value = integer(value) }
        mutating func encode(_ value: UInt) throws { slot.value = integer(value) }
        mutating func encode(_ value: UInt8) throws { slot.value = integer(value) }
        mutating func encode(_ value: UInt16) throws { slot.value = integer(value) }
        mutating func encode(_ value: UInt32) throws { slot.value = integer(value) }
        mutating func encode(_ value: UInt64) throws { slot.value = integer(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { try put(value, into: slot, path: codingPath) }
    }
}
