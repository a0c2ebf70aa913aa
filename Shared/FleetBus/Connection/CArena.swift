import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns the C memory that one rabbitmq-c call borrows (strings, tables, arrays) and frees it all at once.
/// Used only on the connection's thread, for the span of one call.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { free(b) } }

    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = malloc(max(bytes, 1))!
        blocks.append(p)
        return p
    }

    func bytes(_ s: String) -> amqp_bytes_t {
        bytes(Array(s.utf8))
    }

    func bytes(_ a: [UInt8]) -> amqp_bytes_t {
        let p = allocate(a.count)
        a.withUnsafeBytes { src in if let base = src.baseAddress { p.copyMemory(from: base, byteCount: a.count) } }
        return amqp_bytes_t(len: a.count, bytes: p)
    }

    func table(_ dict: [String: AMQPFieldValue]) -> amqp_table_t {
        guard !dict.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * dict.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: dict.count)
        for (i, (key, value)) in dict.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[i].key = bytes(key)
            fill(&entries[i].value, value)
        }
        return amqp_table_t(num_entries: Int32(dict.count), entries: entries)
    }

    private func fill(_ v: inout amqp_field_value_t, _ value: AMQPFieldValue) {
        switch value {
        case .string(let s): fleet_amqp_field_utf8(&v, bytes(s))
        case .int(let i): fleet_amqp_field_i64(&v, i)
        case .bool(let b): fleet_amqp_field_bool(&v, b ? 1 : 0)
        case .double(let d): fleet_amqp_field_double(&v, d)
        case .bytes(let b):
            v.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue)
            v.value.bytes = bytes(b)
        case .table(let t):
            v.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
            v.value.table = table(t)
        case .array(let a):
            let items = allocate(MemoryLayout<amqp_field_value_t>.stride * max(a.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(a.count, 1))
            for (i, item) in a.enumerated() { fill(&items[i], item) }
            v.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            v.value.array = amqp_array_t(num_entries: Int32(a.count), entries: items)
        case .void:
            v.kind = UInt8(AMQP_FIELD_KIND_VOID.rawValue)
        }
    }

    /// Basic properties for a publish; every pointer stays valid until the arena is freed.
    func properties(_ p: MessageProperties) -> amqp_basic_properties_t {
        var props = amqp_basic_properties_t()
        var flags: amqp_flags_t = FLEET_FLAG_DELIVERY_MODE
        props.delivery_mode = p.persistent ? 2 : 1
        if let v = p.contentType {
            props.content_type = bytes(v)
            flags |= FLEET_FLAG_CONTENT_TYPE
        }
        if let v = p.correlationId {
            props.correlation_id = bytes(v)
            flags |= FLEET_FLAG_CORRELATION_ID
        }
        if let v = p.replyTo {
            props.reply_to = bytes(v)
            flags |= FLEET_FLAG_REPLY_TO
        }
        if let v = p.messageId {
            props.message_id = bytes(v)
            flags |= FLEET_FLAG_MESSAGE_ID
        }
        if let v = p.expirationMilliseconds {
            props.expiration = bytes(String(v))
            flags |= FLEET_FLAG_EXPIRATION
        }
        if let v = p.type {
            props.type = bytes(v)
            flags |= FLEET_FLAG_TYPE
        }
        if let v = p.userId {
            props.user_id = bytes(v)
            flags |= FLEET_FLAG_USER_ID
        }
        if let v = p.timestamp {
            props.timestamp = v
            flags |= FLEET_FLAG_TIMESTAMP
        }
        if !p.headers.isEmpty {
            props.headers = table(p.headers)
            flags |= FLEET_FLAG_HEADERS
        }
        props._flags = flags
        return props
    }
}

// Decoding copies everything out of rabbitmq-c's pools, which are recycled after the frame.
extension AMQPFieldValue {
    init(_ v: amqp_field_value_t) {
        switch amqp_field_value_kind_t(UInt32(v.kind)) {
        case AMQP_FIELD_KIND_UTF8: self = .string(String(amqpBytes: v.value.bytes))
        case AMQP_FIELD_KIND_BYTES:
            let b = v.value.bytes
            self = .bytes(b.len > 0 ? Array(UnsafeRawBufferPointer(start: b.bytes, count: b.len)) : [])
        case AMQP_FIELD_KIND_BOOLEAN: self = .bool(v.value.boolean != 0)
        case AMQP_FIELD_KIND_I8: self = .int(Int64(v.value.i8))
        case AMQP_FIELD_KIND_U8: self = .int(Int64(v.value.u8))
        case AMQP_FIELD_KIND_I16: self = .int(Int64(v.value.i16))
        case AMQP_FIELD_KIND_U16: self = .int(Int64(v.value.u16))
        case AMQP_FIELD_KIND_I32: self = .int(Int64(v.value.i32))
        case AMQP_FIELD_KIND_U32: self = .int(Int64(v.value.u32))
        case AMQP_FIELD_KIND_I64: self = .int(v.value.i64)
        case AMQP_FIELD_KIND_U64, AMQP_FIELD_KIND_TIMESTAMP: self = .int(Int64(bitPattern: v.value.u64))
        case AMQP_FIELD_KIND_F32: self = .double(Double(v.value.f32))
        case AMQP_FIELD_KIND_F64: self = .double(v.value.f64)
        case AMQP_FIELD_KIND_TABLE: self = .table(Self.dictionary(v.value.table))
        case AMQP_FIELD_KIND_ARRAY:
            let a = v.value.array
            self = .array((0..<Int(a.num_entries)).map { AMQPFieldValue(a.entries[$0]) })
        default: self = .void
        }
    }

    static func dictionary(_ t: amqp_table_t) -> [String: AMQPFieldValue] {
        var out: [String: AMQPFieldValue] = [:]
        for i in 0..<Int(t.num_entries) {
            out[String(amqpBytes: t.entries[i].key)] = AMQPFieldValue(t.entries[i].value)
        }
        return out
    }
}

extension MessageProperties {
    init(_ p: amqp_basic_properties_t) {
        func has(_ f: amqp_flags_t) -> Bool { p._flags & f != 0 }
        self.init(
            contentType: has(FLEET_FLAG_CONTENT_TYPE) ? String(amqpBytes: p.content_type) : nil,
            correlationId: has(FLEET_FLAG_CORRELATION_ID) ? String(amqpBytes: p.correlation_id) : nil,
            replyTo: has(FLEET_FLAG_REPLY_TO) ? String(amqpBytes: p.reply_to) : nil,
            messageId: has(FLEET_FLAG_MESSAGE_ID) ? String(amqpBytes: p.message_id) : nil,
            expirationMilliseconds: has(FLEET_FLAG_EXPIRATION) ? Int(String(amqpBytes: p.expiration)) : nil,
            type: has(FLEET_FLAG_TYPE) ? String(amqpBytes: p.type) : nil,
            timestamp: has(FLEET_FLAG_TIMESTAMP) ? p.timestamp : nil,
            userId: has(FLEET_FLAG_USER_ID) ? String(amqpBytes: p.user_id) : nil,
            persistent: has(FLEET_FLAG_DELIVERY_MODE) && p.delivery_mode == 2,
            headers: has(FLEET_FLAG_HEADERS) ? AMQPFieldValue.dictionary(p.headers) : [:])
    }
}
