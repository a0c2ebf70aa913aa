/// Recursive-descent parser for the syntax in RegexSyntax.swift.
struct RegexParser {
    static let maxPatternLength = 512
    static let maxRepeatCount = 1000

    private let scalars: [Unicode.Scalar]
    private var pos = 0

    init(_ pattern: String) {
        scalars = Array(pattern.unicodeScalars)
    }

    static func parse(_ pattern: String) throws(RegexError) -> RegexNode {
        // Unicode scalars, what the NFA steps over: grapheme clusters would count a class of
        // 10,000 combining marks as a handful of characters.
        guard pattern.unicodeScalars.count <= maxPatternLength else {
            throw RegexError(offset: maxPatternLength, message: "pattern is longer than \(maxPatternLength) characters (Unicode scalars)")
        }
        var p = RegexParser(pattern)
        let node = try p.parseAlternation()
        if p.pos < p.scalars.count {
            // Only an unmatched ')' stops the top-level alternation early.
            throw RegexError(offset: p.pos, message: "unmatched ')'")
        }
        return node
    }

    private var atEnd: Bool { pos >= scalars.count }
    private var peek: Unicode.Scalar? { atEnd ? nil : scalars[pos] }

    private mutating func parseAlternation() throws(RegexError) -> RegexNode {
        var branches = [try parseConcat()]
        while peek == "|" {
            pos += 1
            branches.append(try parseConcat())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcat() throws(RegexError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek, c != "|", c != ")" {
            let atomStart = pos
            var atom = try parseAtom()
            while let q = peek, q == "*" || q == "+" || q == "?" || q == "{" {
                if case .lineStart = atom { throw RegexError(offset: pos, message: "nothing to repeat") }
                if case .lineEnd = atom { throw RegexError(offset: pos, message: "nothing to repeat") }
                let (min, max) = try parseQuantifier(atomStart: atomStart)
                atom = .repetition(atom, min: min, max: max)
                if peek == "?" { pos += 1 }  // lazy: same match/no-match answer
            }
            items.append(atom)
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concat(items)
        }
    }

    private mutating func parseQuantifier(atomStart: Int) throws(RegexError) -> (Int, Int?) {
        let c = scalars[pos]
        pos += 1
        switch c {
        case "*": return (0, nil)
        case "+": return (1, nil)
        case "?": return (0, 1)
        default:
            let open = pos - 1
            let min = try parseNumber(open)
            var max: Int? = min
            if peek == "," {
                pos += 1
                max = peek == "}" ? nil : try parseNumber(open)
            }
            guard peek == "}" else { throw RegexError(offset: open, message: "unterminated repetition '{'") }
            pos += 1
            if let max, max < min { throw RegexError(offset: open, message: "repetition {\(min),\(max)} has max below min") }
            if (max ?? min) > Self.maxRepeatCount {
                throw RegexError(offset: open, message: "repetition count above \(Self.maxRepeatCount)")
            }
            return (min, max)
        }
    }

    private mutating func parseNumber(_ open: Int) throws(RegexError) -> Int {
        var value = 0
        var digits = 0
        while let c = peek, let d = Int(String(c)), c.isASCII {
            value = min(value * 10 + d, 1_000_000)
            digits += 1
            pos += 1
        }
        guard digits > 0 else { throw RegexError(offset: open, message: "repetition needs a number after '{'") }
        return value
    }

    private mutating func parseAtom() throws(RegexError) -> RegexNode {
        let start = pos
        let c = scalars[pos]
        pos += 1
        switch c {
        case ".": return .anyButNewline
        case "^": return .lineStart
        case "$": return .lineEnd
        case "*", "+", "?", "{":
            throw RegexError(offset: start, message: "nothing to repeat before '\(c)'")
        case "[": return .charClass(try parseClass(start))
        case "(":
            if peek == "?" {
                guard pos + 1 < scalars.count, scalars[pos + 1] == ":" else {
                    throw RegexError(offset: start, message: "only (?: ) groups are supported (no lookaround or flags)")
                }
                pos += 2
            }
            let inner = try parseAlternation()
            guard peek == ")" else { throw RegexError(offset: start, message: "unmatched '('") }
            pos += 1
            return inner
        case "\\":
            return try parseEscape(start, inClass: false)
        default:
            return .literal(c)
        }
    }

    private mutating func parseEscape(_ start: Int, inClass: Bool) throws(RegexError) -> RegexNode {
        guard let e = peek else { throw RegexError(offset: start, message: "pattern ends with '\\'") }
        pos += 1
        switch e {
        case "d": return .charClass(.digit)
        case "w": return .charClass(.word)
        case "s": return .charClass(.space)
        case "D": return .charClass(CharClass(ranges: CharClass.digit.ranges, negated: true))
        case "W": return .charClass(CharClass(ranges: CharClass.word.ranges, negated: true))
        case "S": return .charClass(CharClass(ranges: CharClass.space.ranges, negated: true))
        case "n": return .literal("\n")
        case "t": return .literal("\t")
        case "r": return .literal("\r")
        case "b" where inClass: return .literal("\u{08}")
        default:
            if e.properties.isAlphabetic || e.properties.numericType != nil {
                let what = e.properties.numericType != nil ? " (backreferences are not supported)" : ""
                throw RegexError(offset: start, message: "unsupported escape '\\\(e)'\(what)")
            }
            return .literal(e)
        }
    }

    private mutating func parseClass(_ start: Int) throws(RegexError) -> CharClass {
        var negated = false
        if peek == "^" {
            negated = true
            pos += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let c = peek else { throw RegexError(offset: start, message: "unterminated character class '['") }
            if c == "]" && !first {
                pos += 1
                break
            }
            first = false
            let itemStart = pos
            pos += 1
            var low: Unicode.Scalar = c
            if c == "\\" {
                switch try parseEscape(itemStart, inClass: true) {
                case .charClass(let cls):
                    guard !cls.negated else {
                        throw RegexError(offset: itemStart, message: "negated shorthand inside a class is not supported")
                    }
                    ranges += cls.ranges
                    continue
                case .literal(let l): low = l
                default: continue
                }
            }
            if peek == "-", pos + 1 < scalars.count, scalars[pos + 1] != "]" {
                pos += 1
                var high = scalars[pos]
                pos += 1
                if high == "\\" {
                    guard case .literal(let l) = try parseEscape(pos - 1, inClass: true) else {
                        throw RegexError(offset: itemStart, message: "a class shorthand cannot end a range")
                    }
                    high = l
                }
                guard low.value <= high.value else {
                    throw RegexError(offset: itemStart, message: "invalid range '\(low)-\(high)'")
                }
                ranges.append(low.value...high.value)
            } else {
                ranges.append(low.value...low.value)
            }
        }
        return CharClass(ranges: ranges, negated: negated)
    }
}
