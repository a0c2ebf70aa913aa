/// The eight bulk operation types (docs/domain.md, "Per-host status and progress").
public enum OperationType: String, CaseIterable, Sendable, Hashable, Codable {
    case runScript = "run_script", deployFile = "deploy_file", serviceControl = "service_control"
    case installPackage = "install_package", removePackage = "remove_package", reboot, shutdown
    case applyDeploymentPlan = "apply_deployment_plan"

    /// The feature code that must be enabled to create an operation of this type.
    public var feature: String {
        self == .applyDeploymentPlan ? "fleet_config_deployment" : "fleet_bulk_operations"
    }
}

public enum Shell: String, CaseIterable, Sendable, Hashable, Codable {
    case bash, sh, zsh, ksh, powershell, cmd

    /// The interpreter's argv for a script saved at `scriptPath`: no shell between input and system.
    public func argv(scriptPath: String) -> [String] {
        switch self {
        case .powershell: ["powershell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", scriptPath]
        case .cmd: ["cmd.exe", "/d", "/c", scriptPath]
        default: [rawValue, scriptPath]
        }
    }

    public var fileExtension: String {
        switch self {
        case .powershell: "ps1"
        case .cmd: "cmd"
        default: "sh"
        }
    }
}

public enum PackageManager: String, CaseIterable, Sendable, Hashable, Codable {
    case auto, apt, dnf, yum, zypper, pacman, apk, brew, pkg, choco, winget
}

public enum ServiceAction: String, CaseIterable, Sendable, Hashable, Codable {
    case start, stop, restart, reload, enable, disable
}

public enum FileEncoding: String, CaseIterable, Sendable, Hashable, Codable {
    case utf8, base64
}
