/// `apply_deployment_plan`: packages, files, commands, service actions and removals, run in that
/// order, stopping at the first failure. Each entry follows the rules of its own operation type.
public struct DeploymentPlan: Sendable, Hashable {
    public var packages: [String]
    public var files: [DeployFile]
    /// argv arrays, run without a shell.
    public var commands: [[String]]
    public var serviceActions: [ServiceControl]
    public var packagesToRemove: [String]
    public var manager: PackageManager

    static let keys: Set<String> = ["plan"]
    static let planKeys: Set<String> = ["packages", "files", "commands", "service_actions", "packages_to_remove", "manager"]

    init(_ outer: inout ObjectReader) {
        var r = ObjectReader(outer.raw("plan"), path: outer.at("plan"), allowed: Self.planKeys)
        if outer.raw("plan") == nil { outer.errors.add(outer.at("plan"), .required, "plan is required") }
        packages = Names.packages(&r, "packages", required: false)
        files = r.array("files") { v, at, errors in
            var fr = ObjectReader(v, path: at, allowed: DeployFile.keys)
            let f = DeployFile(&fr)
            errors.add(ValidationError(fr.errors.errors))
            return fr.errors.errors.isEmpty ? f : nil
        }
        commands = r.array("commands") { v, at, errors in
            guard let argv = v.arrayValue?.compactMap(\.stringValue), argv.count == v.arrayValue?.count,
                let program = argv.first, !program.isEmpty, !argv.contains(where: { $0.unicodeScalars.contains("\0") })
            else {
                errors.add(at, .invalidValue, "a command is a non-empty argv array of strings (no shell), without NUL")
                return nil
            }
            return argv
        }
        serviceActions = r.array("service_actions") { v, at, errors in
            var sr = ObjectReader(v, path: at, allowed: ServiceControl.keys)
            let s = ServiceControl(&sr)
            errors.add(ValidationError(sr.errors.errors))
            return sr.errors.errors.isEmpty ? s : nil
        }
        packagesToRemove = Names.packages(&r, "packages_to_remove", required: false)
        manager = r.choice("manager", default: PackageManager.auto) ?? .auto
        if outer.raw("plan") != nil, r.errors.errors.isEmpty,
            packages.isEmpty && files.isEmpty && commands.isEmpty && serviceActions.isEmpty && packagesToRemove.isEmpty
        {
            r.errors.add(outer.at("plan"), .invalidValue, "a plan needs at least one step")
        }
        outer.errors.add(ValidationError(r.errors.errors))
    }

    var json: JSONValue {
        [
            "plan": [
                "packages": .array(packages.map { .string($0) }), "files": .array(files.map(\.json)),
                "commands": .array(commands.map { .array($0.map { .string($0) }) }),
                "service_actions": .array(serviceActions.map(\.json)),
                "packages_to_remove": .array(packagesToRemove.map { .string($0) }), "manager": .string(manager.rawValue),
            ]
        ]
    }
}
