import Foundation
import Testing

@testable import FleetCore

@Suite("linear-time regex")
struct SafeRegexTests {
    @Test(
        arguments: [
            ("abc", "xxabcxx", true), ("^abc", "xxabc", false), ("abc$", "abcx", false), ("^abc$", "ABC", true),
            ("a.c", "abc", true), ("a.c", "a\nc", false), ("colou?r", "color", true), ("colou?r", "colour", true),
            ("ab*c", "ac", true), ("ab+c", "ac", false), ("ab{2}c", "abbc", true), ("ab{2}c", "abbbc", false),
            ("ab{2,}c", "abbbbc", true), ("ab{1,2}c", "abbbc", false), ("ab{0,1}c", "ac", true),
            ("(web|db)-\\d+", "db-12", true), ("(?:web|db)-\\d+", "app-1", false), ("[a-c]+x", "bcax", true),
            ("[^a-c]x", "ax", false), ("[^a-c]x", "dx", true), ("\\w+@\\w+\\.com", "me@host.com", true),
            ("\\s", "a b", true), ("\\S+", "   ", false), ("\\D", "123", false), ("a\\.b", "axb", false), ("a\\.b", "a.b", true),
            ("[A-Z]{3}", "abc", true), ("[^A-Z]", "ABC", false), ("x*", "", true), ("^$", "", true), ("a|", "zzz", true),
            ("[.]", "a", false), ("[\\d-]+$", "12-34", true), ("ü", "Ü", true), ("(a|b)*c", "ababab", false),
            ("a{0}b", "b", true), ("ab+?c", "abbc", true), ("[-a]", "-", true), ("[]a]", "]", true),
        ] as [(String, String, Bool)])
    func matchesLikeARegexSearch(pattern: String, input: String, expected: Bool) throws {
        #expect(try SafeRegex(pattern).search(input) == expected)
    }

    @Test(
        arguments: [
            ("(ab", 0, "unmatched '('"), ("ab)", 2, "unmatched ')'"), ("*a", 0, "nothing to repeat"),
            ("a{3,1}", 1, "max below min"), ("a{2", 1, "unterminated repetition"), ("[abc", 0, "unterminated character class"),
            ("[z-a]", 1, "invalid range"), ("\\1", 0, "backreferences"), ("(?=a)", 0, "only (?: )"), ("abc\\", 3, "ends with"),
            ("a{1001}", 1, "above 1000"), ("^*", 1, "nothing to repeat"), ("a{,3}", 1, "needs a number"),
        ] as [(String, Int, String)])
    func invalidPatternsSayWhereAndWhy(pattern: String, offset: Int, message: String) {
        do {
            _ = try SafeRegex(pattern)
            Issue.record("expected \(pattern) to be refused")
        } catch {
            #expect(error.offset == offset, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func patternsOver512CharactersAreRefused() {
        #expect(throws: RegexError.self) { try SafeRegex(String(repeating: "a", count: 513)) }
        #expect(throws: Never.self) { try SafeRegex(String(repeating: "a", count: 512)) }
    }

    @Test func explosiveRepetitionIsRefusedNotExpanded() {
        #expect(throws: RegexError.self) { try SafeRegex("((a{1000}){1000}){1000}") }
    }

    /// Patterns that make backtracking engines take exponential time; here each is one linear pass.
    @Test(arguments: [
        ("(a+)+$", false), ("(a|a)*$", true), ("(a*)*b", false), ("(a|aa)+$", false),
        ("(x+x+)+y", false), ("^(\\w+\\s?)*$", false), ("^(a|a?)+$", false),
    ])
    func hostilePatternsStayLinear(pattern: String, expected: Bool) throws {
        let re = try SafeRegex(pattern)
        let input = String(repeating: "a", count: 30) + "!"
        let clock = ContinuousClock()
        var result = true
        let elapsed = clock.measure { result = re.search(input) }
        #expect(result == expected)
        // A backtracking engine needs minutes for these; a linear one microseconds. The bound only
        // has to tell the two apart, so it is generous enough for a loaded CI machine.
        #expect(elapsed < .seconds(1), "\(pattern) took \(elapsed)")
    }

    @Test func hostilePatternAcrossAHundredThousandHosts() throws {
        let hosts = (0..<100_000).map { i in host(["id": .string("h\(i)"), "fqdn": .string(String(repeating: "a", count: 30) + "!")]) }
        let index = InventoryIndex(hosts)
        let selector = try compile(criterion("fqdn", "matches", "(a+)+$"))
        let clock = ContinuousClock()
        var matched = -1
        let elapsed = clock.measure { matched = index.select(selector).count }
        #expect(matched == 0)
        #expect(elapsed < .seconds(60), "took \(elapsed)")  // backtracking would take longer than the universe
    }
}
