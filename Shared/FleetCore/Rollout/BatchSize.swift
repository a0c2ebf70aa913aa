import Foundation

/// A batch size: a host count (>= 1) or a percentage of the rollout's hosts ("10%").
public enum BatchSize: Sendable, Hashable {
    case count(Int)
    case percent(Double)

    /// `max(1, floor(p * n / 100))` for a percentage.
    public func resolve(total n: Int) -> Int {
        switch self {
        case .count(let c): return c
        case .percent(let p): return max(1, Int((p * Double(n) / 100).rounded(.down)))
        }
    }

    public init(json: JSONValue, path at: String) throws(ValidationError) {
        if let i = json.intValue {
            guard i >= 1 else { throw ValidationError(at, .invalidValue, "a batch size is at least 1, got \(i)") }
            self = .count(Int(i))
            return
        }
        if let s = json.stringValue, let p = Self.percentage(s) {
            self = .percent(p)
            return
        }
        throw ValidationError(
            at, json.stringValue == nil ? .invalidType : .invalidValue,
            "a batch size is an integer >= 1 or a percentage such as \"10%\" (0 < p <= 100)")
    }

    /// `s` as a percentage in (0, 100]: digits (no sign, exponent or leading zero), an optional
    /// fraction, then `%`; the grammar docs/openapi.yaml states as a pattern.
    static func percentage(_ s: String) -> Double? {
        guard s.hasSuffix("%") else { return nil }
        let number = s.dropLast()
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits = { (t: Substring) in !t.isEmpty && t.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard digits(parts[0]), parts[0].count <= 3, parts[0] == "0" || parts[0].first != "0" else { return nil }
        if parts.count == 2 { guard digits(parts[1]) else { return nil } }
        guard let p = Double(number), p > 0, p <= 100 else { return nil }
        return p
    }

    public var json: JSONValue {
        switch self {
        case .count(let c): .int(Int64(c))
        case .percent(let p): .string(p.rounded() == p ? "\(Int(p))%" : "\(p)%")
        }
    }
}
