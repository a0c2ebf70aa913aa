/// All host groups, and the hierarchy rules over them. Pure: the groups service persists the result.
public struct GroupTable: Sendable {
    public private(set) var groups: [String: HostGroup]

    public init(_ groups: some Sequence<HostGroup>) {
        self.groups = Dictionary(groups.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    public func children(of id: String?) -> [HostGroup] {
        groups.values.filter { $0.parentID == id }.sorted { $0.id < $1.id }
    }

    /// Every group below `id`, at any depth.
    public func descendants(of id: String) -> Set<String> {
        var out = Set<String>()
        var stack = [id]
        while let current = stack.popLast() {
            for child in groups.values where child.parentID == current && out.insert(child.id).inserted {
                stack.append(child.id)
            }
        }
        return out
    }

    /// Checks a create or update: the parent exists (422), the parent is not the group itself or one
    /// of its descendants (409 `group_cycle`), and no other group has the same name ignoring case
    /// (409 `group_name_taken`).
    /// Throws `ValidationError` or `ConflictError`.
    public func checkUpsert(_ group: HostGroup) throws {
        if let parent = group.parentID {
            guard groups[parent] != nil else {
                throw ValidationError("parent_id", .unknownGroup, "parent group '\(parent)' does not exist")
            }
            if parent == group.id || descendants(of: group.id).contains(parent) {
                throw ConflictError(code: "group_cycle", "making '\(parent)' the parent of '\(group.id)' would form a cycle")
            }
        }
        let folded = group.name.lowercased()
        if let other = groups.values.first(where: { $0.id != group.id && $0.name.lowercased() == folded }) {
            throw ConflictError(code: "group_name_taken", "group '\(other.id)' is already named '\(other.name)'")
        }
    }

    /// Validates and applies a create or update.
    public mutating func upsert(_ group: HostGroup) throws {
        try checkUpsert(group)
        groups[group.id] = group
    }

    /// Deletes a group; its direct children move to its parent (or the top level). Returns the
    /// children as they are now, which the caller persists with the deletion.
    public mutating func delete(_ id: String) throws(ConflictError) -> [HostGroup] {
        guard let removed = groups.removeValue(forKey: id) else {
            throw ConflictError(.notFound, code: "group_not_found", "no group '\(id)'")
        }
        var moved: [HostGroup] = []
        for var child in children(of: id) {
            child.parentID = removed.parentID
            groups[child.id] = child
            moved.append(child)
        }
        return moved
    }

    /// Effective membership (explicit hosts that exist, UNION hosts matching all criteria, UNION
    /// every descendant's membership) of every group, evaluated against `index` now.
    public func effectiveMembers(in index: InventoryIndex) -> [String: Set<String>] {
        var memo: [String: Set<String>] = [:]
        func members(_ id: String, _ visiting: inout Set<String>) -> Set<String> {
            if let known = memo[id] { return known }
            guard let g = groups[id], visiting.insert(id).inserted else { return [] }
            var out = Set(g.hostIDs.filter(index.contains))
            if !g.criteria.isEmpty, let compiled = try? CompiledSelector(HostSelector(criteria: g.criteria)) {
                out.formUnion(index.select(compiled).hostIDs)
            }
            for child in children(of: id) { out.formUnion(members(child.id, &visiting)) }
            visiting.remove(id)
            memo[id] = out
            return out
        }
        for id in groups.keys {
            var visiting = Set<String>()
            _ = members(id, &visiting)
        }
        return memo
    }

    /// Effective membership of one group, or nil when it does not exist.
    public func effectiveMembers(of id: String, in index: InventoryIndex) -> Set<String>? {
        guard groups[id] != nil else { return nil }
        let subtree = descendants(of: id).union([id])
        var sub = GroupTable([])
        sub.groups = groups.filter { subtree.contains($0.key) }
        return sub.effectiveMembers(in: index)[id]
    }
}
