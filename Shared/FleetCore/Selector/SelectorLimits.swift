/// How big one selector may be (docs/domain.md, "Selector limits"). A selector is the one input a
/// `read`-scope token can make expensive: these caps bound what compiling and evaluating it can
/// cost, and each is answered with a 422 naming the field that crosses it.
public struct SelectorLimits: Sendable, Hashable {
    /// Conditions and combinators (`any`, `all`, `not`), counted across all nesting.
    public var maxCriteria = 256
    /// How deep `any`/`all`/`not` may nest (a top-level criterion is depth 1).
    public var maxDepth = 8
    /// Entries of `explicit_host_ids`, and of `exclude_host_ids`.
    public var maxHostIDs = 10_000
    /// Entries of `platforms`, `tags`, `groups`, and of one `in`/`not_in` value.
    public var maxListEntries = 1_000
    /// The string values of all criteria together, in Unicode scalars.
    public var maxPatternScalars = 4_096
    /// The NFA steps of all `matches` patterns together (each alone may have 20,000).
    public var maxProgramSteps = 50_000

    public init() {}

    public static let standard = SelectorLimits()

    /// Every cap `selector` crosses, each naming its field.
    func violations(of selector: HostSelector, path base: String = "") -> FieldErrors {
        var errors = FieldErrors()
        for (key, ids) in [("explicit_host_ids", selector.explicitHostIDs), ("exclude_host_ids", selector.excludeHostIDs)] where ids.count > maxHostIDs {
            errors.add(path(base, key), .tooLarge, "\(key) has \(ids.count) entries; at most \(maxHostIDs)")
        }
        for (key, list) in [("platforms", selector.platforms), ("tags", selector.tags), ("groups", selector.groups)] {
            if let list, list.count > maxListEntries {
                errors.add(path(base, key), .tooLarge, "\(key) has \(list.count) entries; at most \(maxListEntries)")
            }
        }
        let criteria = path(base, "criteria")
        var tally = Tally()
        for (i, c) in selector.criteria.enumerated() { walk(c, at: path(criteria, i), &tally, &errors) }
        if tally.criteria > maxCriteria {
            errors.add(criteria, .tooLarge, "the criteria hold \(tally.criteria) conditions and combinators; at most \(maxCriteria)")
        }
        if tally.scalars > maxPatternScalars {
            errors.add(criteria, .tooLarge, "the criteria's values hold \(tally.scalars) characters (Unicode scalars); at most \(maxPatternScalars)")
        }
        return errors
    }

    private struct Tally {
        var criteria = 0
        var scalars = 0
    }

    private func walk(_ c: Criterion, at: String, _ tally: inout Tally, _ errors: inout FieldErrors) {
        tally.criteria += 1
        // Depth needs no check here: `Criterion(json:path:depth:)` refuses it while parsing.
        switch c {
        case .any(let items), .all(let items):
            let key = if case .any = c { "any" } else { "all" }
            for (i, item) in items.enumerated() { walk(item, at: path(path(at, key), i), &tally, &errors) }
        case .not(let inner):
            walk(inner, at: path(at, "not"), &tally, &errors)
        case .condition(_, _, let value):
            if case .array(let items) = value, items.count > maxListEntries {
                errors.add(path(at, "value"), .tooLarge, "value has \(items.count) entries; at most \(maxListEntries)")
            }
            tally.scalars += Self.scalars(value)
        }
    }

    private static func scalars(_ value: JSONValue) -> Int {
        switch value {
        case .string(let s): s.unicodeScalars.count
        case .array(let items): items.reduce(0) { $0 + scalars($1) }
        default: 0
        }
    }
}
