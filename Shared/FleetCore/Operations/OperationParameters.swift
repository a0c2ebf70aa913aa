/// The validated parameters of an operation, one case per type.
public enum OperationParameters: Sendable, Hashable {
    case runScript(RunScript)
    case deployFile(DeployFile)
    case serviceControl(ServiceControl)
    case installPackage(PackageChange)
    case removePackage(PackageChange)
    case reboot(PowerAction)
    case shutdown(PowerAction)
    case applyDeploymentPlan(DeploymentPlan)

    /// Validates `json` as the parameters of `type`; errors are named `parameters.<field>`.
    public init(type: OperationType, json: JSONValue?, path base: String = "parameters") throws(ValidationError) {
        func read(_ keys: Set<String>) -> ObjectReader { ObjectReader(json, path: base, allowed: keys) }
        switch type {
        case .runScript:
            var r = read(RunScript.keys)
            let p = RunScript(&r)
            try r.throwIfAny()
            self = .runScript(p)
        case .deployFile:
            var r = read(DeployFile.keys)
            let p = DeployFile(&r)
            try r.throwIfAny()
            self = .deployFile(p)
        case .serviceControl:
            var r = read(ServiceControl.keys)
            let p = ServiceControl(&r)
            try r.throwIfAny()
            self = .serviceControl(p)
        case .installPackage, .removePackage:
            var r = read(PackageChange.keys)
            let p = PackageChange(&r)
            try r.throwIfAny()
            self = type == .installPackage ? .installPackage(p) : .removePackage(p)
        case .reboot, .shutdown:
            var r = read(PowerAction.keys)
            let p = PowerAction(&r)
            try r.throwIfAny()
            self = type == .reboot ? .reboot(p) : .shutdown(p)
        case .applyDeploymentPlan:
            var r = read(DeploymentPlan.keys)
            let p = DeploymentPlan(&r)
            try r.throwIfAny()
            self = .applyDeploymentPlan(p)
        }
    }

    public var type: OperationType {
        switch self {
        case .runScript: .runScript
        case .deployFile: .deployFile
        case .serviceControl: .serviceControl
        case .installPackage: .installPackage
        case .removePackage: .removePackage
        case .reboot: .reboot
        case .shutdown: .shutdown
        case .applyDeploymentPlan: .applyDeploymentPlan
        }
    }

    /// The canonical JSON form (defaults filled in), as stored and sent to agents.
    public var json: JSONValue {
        switch self {
        case .runScript(let p): p.json
        case .deployFile(let p): p.json
        case .serviceControl(let p): p.json
        case .installPackage(let p), .removePackage(let p): p.json
        case .reboot(let p), .shutdown(let p): p.json
        case .applyDeploymentPlan(let p): p.json
        }
    }

    /// How long one host may run before it fails `timed_out`.
    public var timeoutSeconds: Int {
        switch self {
        case .runScript(let p): p.timeoutSeconds
        case .applyDeploymentPlan: 3600
        default: 900
        }
    }
}
