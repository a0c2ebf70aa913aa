import Foundation

/// `run_script`: a script run by an interpreter from a temporary file.
public struct RunScript: Sendable, Hashable {
    public static let maxContentBytes = 1 << 20
    public var content: String
    public var shell: Shell
    public var timeoutSeconds: Int
    /// `${name}` in the content is replaced by the value before the script is saved.
    public var parameterValues: [String: String]

    static let keys: Set<String> = ["content", "shell", "timeout_seconds", "parameter_values"]

    init(_ r: inout ObjectReader) {
        content = r.string("content", required: true, maxBytes: Self.maxContentBytes) ?? ""
        shell = r.choice("shell", default: Shell.bash) ?? .bash
        timeoutSeconds = Int(r.int("timeout_seconds", in: 1...86_400, default: 300) ?? 300)
        parameterValues = [:]
        if let v = r.raw("parameter_values") {
            guard let o = v.objectValue else {
                r.errors.add(r.at("parameter_values"), .invalidType, "parameter_values must be an object")
                return
            }
            for (name, value) in o {
                let at = path(r.at("parameter_values"), name)
                guard Self.isParameterName(name) else {
                    r.errors.add(at, .invalidValue, "parameter names are [A-Za-z_][A-Za-z0-9_]*")
                    continue
                }
                switch value {
                case .string(let s): parameterValues[name] = s
                case .int(let i): parameterValues[name] = String(i)
                case .double(let d): parameterValues[name] = String(d)
                case .bool(let b): parameterValues[name] = String(b)
                default: r.errors.add(at, .invalidType, "parameter values are strings, numbers or booleans")
                }
            }
        }
    }

    static func isParameterName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) }
    }

    /// The content with every `${name}` of a known parameter replaced; unknown ones stay as written.
    public var renderedContent: String {
        var out = ""
        var rest = Substring(content)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            let after = rest[open.upperBound...]
            if let close = after.firstIndex(of: "}"), let value = parameterValues[String(after[..<close])] {
                out += value
                rest = after[after.index(after: close)...]
            } else {
                out += "${"
                rest = after
            }
        }
        return out + rest
    }

    var json: JSONValue {
        [
            "content": .string(content), "shell": .string(shell.rawValue), "timeout_seconds": .int(Int64(timeoutSeconds)),
            "parameter_values": .object(parameterValues.mapValues { .string($0) }),
        ]
    }
}
