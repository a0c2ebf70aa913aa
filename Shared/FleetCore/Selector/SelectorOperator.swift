/// The operators of a criterion (docs/domain.md, "Selector").
public enum SelectorOperator: String, CaseIterable, Sendable, Hashable, Codable {
    case equals, notEquals = "not_equals", contains, notContains = "not_contains"
    case `in`, notIn = "not_in", matches, startsWith = "starts_with", endsWith = "ends_with"
    case exists, gt, gte, lt, lte

    /// Negative operators hold when the positive one holds for no value (and so on an absent field).
    var isNegative: Bool { self == .notEquals || self == .notIn || self == .notContains }

    var isStringOnly: Bool { [.contains, .notContains, .matches, .startsWith, .endsWith].contains(self) }
    var isComparison: Bool { [.gt, .gte, .lt, .lte].contains(self) }
}
