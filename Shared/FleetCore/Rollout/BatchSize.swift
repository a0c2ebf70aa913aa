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
        if let s = json.stringValue, s.hasSuffix("%"), let p = Double(s.dropLast().trimmingCharacters(in: .whitespaces)), p > 0, p <= 100 {
            self = .percent(p)
            return
        }
        throw ValidationError(
            at, json.stringValue == nil ? .invalidType : .invalidValue,
            "a batch size is an integer >= 1 or a percentage such as \"10%\" (0 < p <= 100)")
    }

    public var json: JSONValue {
        switch self {
        case .count(let c): .int(Int64(c))
        case .percent(let p): .string(p.rounded() == p ? "\(Int(p))%" : "\(p)%")
        }
    }
}
