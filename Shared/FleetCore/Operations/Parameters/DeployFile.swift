import Foundation

/// `deploy_file`: write a file atomically, with mode and owner.
public struct DeployFile: Sendable, Hashable {
    public static let maxContentBytes = 10 << 20
    public var path: String
    /// The file's bytes (decoded from base64 when `encoding` was base64).
    public var content: [UInt8]
    public var encoding: FileEncoding
    /// Permission bits, from an octal string such as "0644".
    public var mode: Int?
    public var ownerUID: Int?
    public var ownerGID: Int?
    public var backup: Bool

    static let keys: Set<String> = ["path", "content", "encoding", "mode", "owner_uid", "owner_gid", "backup"]

    init(_ r: inout ObjectReader) {
        path = r.string("path", required: true) ?? ""
        if !path.isEmpty, let problem = Self.pathProblem(path) { r.errors.add(r.at("path"), .invalidValue, problem) }
        encoding = r.choice("encoding", default: FileEncoding.utf8) ?? .utf8
        let text = r.string("content", required: true, maxBytes: Self.maxContentBytes * 4 / 3 + 4) ?? ""
        switch encoding {
        case .utf8: content = Array(text.utf8)
        case .base64:
            if let data = Data(base64Encoded: text) {
                content = Array(data)
            } else {
                content = []
                r.errors.add(r.at("content"), .invalidValue, "content is not valid base64")
            }
        }
        if content.count > Self.maxContentBytes { r.errors.add(r.at("content"), .tooLong, "content is larger than 10 MiB") }
        mode = nil
        if let m = r.string("mode") {
            if (3...4).contains(m.unicodeScalars.count), m.unicodeScalars.allSatisfy({ ("0"..."7").contains($0) }), let v = Int(m, radix: 8) {
                mode = v
            } else {
                r.errors.add(r.at("mode"), .invalidValue, "mode is an octal string such as \"0644\"")
            }
        }
        ownerUID = r.int("owner_uid", in: 0...4_294_967_294).map(Int.init)
        ownerGID = r.int("owner_gid", in: 0...4_294_967_294).map(Int.init)
        backup = r.bool("backup", default: false)
    }

    /// Why a path is refused, or nil: absolute, normalised (no `.`/`..` components, no doubled or
    /// trailing separators), no NUL. POSIX (`/etc/x`) or Windows (`C:\x`). Read by Unicode scalars,
    /// as the spec's pattern reads it: "/" followed by a combining mark is still a separator.
    static func pathProblem(_ p: String) -> String? {
        let scalars = Array(p.unicodeScalars)
        if scalars.contains("\0") { return "path must not contain NUL" }
        let windows = scalars.count >= 3 && scalars[0].isASCII && scalars[0].properties.isAlphabetic && scalars[1] == ":" && scalars[2] == "\\"
        guard scalars.first == "/" || windows else { return "path must be absolute (/etc/app.conf or C:\\app\\app.conf)" }
        let separator: Unicode.Scalar = windows ? "\\" : "/"
        let rest = scalars.dropFirst(windows ? 3 : 1)
        let parts = rest.split(separator: separator, omittingEmptySubsequences: false)
        if rest.isEmpty || parts.contains(where: \.isEmpty) { return "path must be normalised: no empty, doubled or trailing separators" }
        if parts.contains(where: { $0.elementsEqual(["."]) || $0.elementsEqual([".", "."]) }) {
            return "path must be normalised: no '.' or '..' components"
        }
        return nil
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["path": .string(path), "encoding": .string(encoding.rawValue), "backup": .bool(backup)]
        o["content"] = encoding == .base64 ? .string(Data(content).base64EncodedString()) : .string(String(decoding: content, as: UTF8.self))
        if let mode {
            // Four octal digits, the form the reader takes back: "0" + "0" for mode 0 was not.
            let octal = String(mode, radix: 8)
            o["mode"] = .string(String(repeating: "0", count: max(0, 4 - octal.count)) + octal)
        }
        if let ownerUID { o["owner_uid"] = .int(Int64(ownerUID)) }
        if let ownerGID { o["owner_gid"] = .int(Int64(ownerGID)) }
        return .object(o)
    }
}
