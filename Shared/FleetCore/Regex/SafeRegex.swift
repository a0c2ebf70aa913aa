/// A compiled `matches` pattern: a Thompson NFA simulated in lock step over the input, so a match
/// costs O(input length x program size) whatever the pattern, with no backtracking to blow up.
/// Matching is a case-insensitive search (the pattern may match anywhere unless anchored).
public struct SafeRegex: Sendable, Hashable {
    enum Instruction: Hashable {
        case scalar(Unicode.Scalar)
        case any
        case charClass(Int)
        case split(Int, Int)
        case jump(Int)
        case assertStart
        case assertEnd
        case match
    }

    static let maxProgramSize = 20_000

    public let pattern: String
    let program: [Instruction]
    let classes: [CharClassBox]
    /// Every match must begin at the start of the input (the pattern begins with `^` outside any alternation).
    let anchoredAtStart: Bool

    public init(_ pattern: String) throws(RegexError) {
        self.pattern = pattern
        var compiler = Compiler()
        compiler.emit(try RegexParser.parse(pattern))
        compiler.program.append(.match)
        guard compiler.program.count <= Self.maxProgramSize else {
            throw RegexError(offset: 0, message: "pattern expands to more than \(Self.maxProgramSize) steps; use fewer or smaller repetitions")
        }
        program = compiler.program
        classes = compiler.classes
        anchoredAtStart = program.first == .assertStart
    }

    /// True when the pattern matches somewhere in `text` (compared case-insensitively).
    public func search(_ text: String) -> Bool {
        let n = program.count
        // Scratch space on the stack: no allocation per call, so a scan of 100,000 hosts allocates nothing here.
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 4 * n + 2) { ints in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: n) { seen in
                seen.initialize(repeating: 0)
                var current = ThreadList(items: UnsafeMutableBufferPointer(rebasing: ints[0..<n]))
                var next = ThreadList(items: UnsafeMutableBufferPointer(rebasing: ints[n..<(2 * n)]))
                let stack = UnsafeMutableBufferPointer(rebasing: ints[(2 * n)...])
                var mark: UInt32 = 0
                return run(text, &current, &next, seen, stack, &mark)
            }
        }
    }

    private func run(
        _ text: String, _ current: inout ThreadList, _ next: inout ThreadList,
        _ seen: UnsafeMutableBufferPointer<UInt32>, _ stack: UnsafeMutableBufferPointer<Int32>, _ mark: inout UInt32
    ) -> Bool {
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        var atStart = true
        mark &+= 1
        while true {
            let atEnd = index == scalars.endIndex
            // A new attempt starts at every position (that makes it a search), except for a pattern
            // anchored with a leading ^, which can only start at the beginning.
            if atStart || !anchoredAtStart {
                if addThread(&current, 0, atStart: atStart, atEnd: atEnd, seen, stack, mark) { return true }
            }
            if atEnd || (current.count == 0 && anchoredAtStart) { return false }
            let c = Self.fold(scalars[index])
            scalars.formIndex(after: &index)
            let nextAtEnd = index == scalars.endIndex
            mark &+= 1
            if mark == 0 {
                seen.update(repeating: 0)
                mark = 1
            }
            next.count = 0
            for i in 0..<current.count {
                let pc = Int(current.items[i])
                let advance: Bool
                switch program[pc] {
                case .scalar(let s): advance = s == c
                case .any: advance = c != "\n"
                case .charClass(let k): advance = classes[k].matches(c)
                default: advance = false
                }
                if advance, addThread(&next, pc + 1, atStart: false, atEnd: nextAtEnd, seen, stack, mark) { return true }
            }
            swap(&current, &next)
            atStart = false
        }
    }

    /// Follows jumps, splits and assertions from `pc`; returns true when it reaches `match`.
    private func addThread(
        _ list: inout ThreadList, _ pc: Int, atStart: Bool, atEnd: Bool,
        _ seen: UnsafeMutableBufferPointer<UInt32>, _ stack: UnsafeMutableBufferPointer<Int32>, _ mark: UInt32
    ) -> Bool {
        var top = 0
        stack[top] = Int32(pc)
        top += 1
        while top > 0 {
            top -= 1
            let pc = Int(stack[top])
            if seen[pc] == mark { continue }
            seen[pc] = mark
            switch program[pc] {
            case .match: return true
            case .jump(let target):
                stack[top] = Int32(target)
                top += 1
            case .split(let a, let b):
                stack[top] = Int32(b)
                stack[top + 1] = Int32(a)
                top += 2
            case .assertStart:
                if atStart {
                    stack[top] = Int32(pc + 1)
                    top += 1
                }
            case .assertEnd:
                if atEnd {
                    stack[top] = Int32(pc + 1)
                    top += 1
                }
            case .scalar, .any, .charClass:
                list.items[list.count] = Int32(pc)
                list.count += 1
            }
        }
        return false
    }

    /// Simple case folding: lowercase when the lowercase form is one scalar.
    static func fold(_ c: Unicode.Scalar) -> Unicode.Scalar {
        if c.isASCII {
            let v = c.value
            return v >= 0x41 && v <= 0x5A ? Unicode.Scalar(v + 32)! : c
        }
        let lower = c.properties.lowercaseMapping.unicodeScalars
        return lower.count == 1 ? lower.first! : c
    }

    public static func == (a: SafeRegex, b: SafeRegex) -> Bool { a.pattern == b.pattern }
    public func hash(into h: inout Hasher) { h.combine(pattern) }
}

/// A class, matched against folded (lowercased) input: case-insensitively, a scalar is a member
/// when it or its uppercase form falls in the ranges; negation applies after that.
struct CharClassBox: Hashable {
    let cls: CharClass

    func matches(_ folded: Unicode.Scalar) -> Bool {
        let member = inRanges(folded) || Self.upper(folded).map(inRanges) == true
        return member != cls.negated
    }

    private func inRanges(_ c: Unicode.Scalar) -> Bool {
        cls.ranges.contains { $0.contains(c.value) }
    }

    private static func upper(_ c: Unicode.Scalar) -> Unicode.Scalar? {
        let u = c.properties.uppercaseMapping.unicodeScalars
        return u.count == 1 && u.first! != c ? u.first! : nil
    }
}

/// The program counters alive at one input position (deduplicated through the shared `seen` marks).
struct ThreadList {
    let items: UnsafeMutableBufferPointer<Int32>
    var count = 0
}

/// Turns the syntax tree into instructions (Thompson's construction).
private struct Compiler {
    var program: [SafeRegex.Instruction] = []
    var classes: [CharClassBox] = []

    mutating func emit(_ node: RegexNode) {
        // A runaway expansion stops early; the caller reports it by the program size.
        guard program.count <= SafeRegex.maxProgramSize else { return }
        switch node {
        case .empty: break
        case .literal(let c): program.append(.scalar(SafeRegex.fold(c)))
        case .anyButNewline: program.append(.any)
        case .charClass(let cls):
            classes.append(CharClassBox(cls: cls))
            program.append(.charClass(classes.count - 1))
        case .lineStart: program.append(.assertStart)
        case .lineEnd: program.append(.assertEnd)
        case .concat(let items): for item in items { emit(item) }
        case .alternation(let branches):
            var jumpsToEnd: [Int] = []
            for (i, branch) in branches.enumerated() {
                if i < branches.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, -1))
                    emit(branch)
                    jumpsToEnd.append(program.count)
                    program.append(.jump(-1))
                    program[split] = .split(split + 1, program.count)
                } else {
                    emit(branch)
                }
            }
            for j in jumpsToEnd { program[j] = .jump(program.count) }
        case .repetition(let inner, let min, let max):
            for _ in 0..<min { emit(inner) }
            if let max {
                // Each optional copy may be skipped to the end.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(program.count)
                    program.append(.split(program.count + 1, -1))
                    emit(inner)
                }
                for s in splits { program[s] = .split(s + 1, program.count) }
            } else {
                let loop = program.count
                program.append(.split(loop + 1, -1))
                emit(inner)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}
