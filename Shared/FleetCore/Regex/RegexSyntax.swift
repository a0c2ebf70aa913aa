/// The parsed form of a `matches` pattern.
///
/// Supported syntax (documented in docs/domain.md, "`matches`: supported regular expressions"): literals; `.`; classes `[abc]`, `[^a-z]`,
/// `\d \w \s \D \W \S` (also inside classes); anchors `^` `$`; groups `(...)` and `(?:...)`;
/// alternation `|`; quantifiers `* + ? {m} {m,} {m,n}` (a trailing `?` for laziness is accepted and
/// changes nothing, since only whether a match exists matters); escapes `\. \\ \n \t \r` and of any
/// punctuation. Not supported: backreferences, lookaround, `\b`, possessive quantifiers.
indirect enum RegexNode: Hashable {
    case empty
    case literal(Unicode.Scalar)
    case anyButNewline
    case charClass(CharClass)
    case lineStart
    case lineEnd
    case concat([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?)
}

/// A set of scalars: ranges, possibly negated.
struct CharClass: Hashable {
    var ranges: [ClosedRange<UInt32>]
    var negated: Bool

    static let digit = CharClass(ranges: [0x30...0x39], negated: false)
    static let word = CharClass(ranges: [0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F...0x5F], negated: false)
    static let space = CharClass(ranges: [0x09...0x0D, 0x20...0x20], negated: false)
}

/// Why a pattern was refused, and where (0-based character offset).
public struct RegexError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "\(message) at offset \(offset)" }
}
