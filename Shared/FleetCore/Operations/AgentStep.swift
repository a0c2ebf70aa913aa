/// One thing an agent does for an operation. Programs are argv arrays: user input is never
/// spliced into a shell command line.
public enum AgentStep: Sendable, Hashable {
    /// Run a program.
    case exec([String])
    /// Save `content` to a temporary file and run it with the shell's argv.
    case script(Shell, content: String)
    /// Write a file atomically (temporary file, fsync, rename), then apply mode and owner.
    case writeFile(DeployFile)
    /// Report success first, wait `delaySeconds`, then run the program (reboot, shutdown).
    case power([String], delaySeconds: Int)
}

/// The platforms whose commands differ.
public enum AgentPlatform: String, CaseIterable, Sendable, Hashable {
    case linux, macos, freebsd, windows

    /// From a host's `platform` field; nil for a platform no executor knows.
    public init?(hostPlatform: String) {
        switch hostPlatform.lowercased() {
        case "linux": self = .linux
        case "macos", "darwin", "mac os x", "osx": self = .macos
        case "freebsd": self = .freebsd
        case "windows": self = .windows
        default: return nil
        }
    }
}

/// A host cannot run this operation (skipped with reason `unsupported`).
public struct UnsupportedOperation: Error, Sendable, Hashable {
    public let message: String
}

extension OperationParameters {
    /// The steps for a host of `platform` whose package manager is `manager` (detected by the agent
    /// when the operation says `auto`). Run in order; the first failure stops the rest.
    public func steps(platform: AgentPlatform, manager detected: PackageManager) throws(UnsupportedOperation) -> [AgentStep] {
        switch self {
        case .runScript(let p):
            // Windows runs powershell and cmd; the others the POSIX-family shells.
            let windowsShell = p.shell == .powershell || p.shell == .cmd
            if windowsShell != (platform == .windows) {
                throw UnsupportedOperation(message: "\(p.shell.rawValue) is not available on \(platform.rawValue)")
            }
            return [.script(p.shell, content: p.renderedContent)]
        case .deployFile(let f):
            return [.writeFile(f)]
        case .serviceControl(let s):
            return try Self.serviceSteps(s, platform)
        case .installPackage(let p):
            return try Self.packageSteps(p.packages, install: true, manager: p.manager == .auto ? detected : p.manager)
        case .removePackage(let p):
            return try Self.packageSteps(p.packages, install: false, manager: p.manager == .auto ? detected : p.manager)
        case .reboot(let p):
            return [.power(platform == .windows ? ["shutdown", "/r", "/t", "0"] : ["shutdown", "-r", "now"], delaySeconds: p.delaySeconds)]
        case .shutdown(let p):
            let argv: [String] =
                switch platform {
                case .windows: ["shutdown", "/s", "/t", "0"]
                case .freebsd: ["shutdown", "-p", "now"]
                default: ["shutdown", "-h", "now"]
                }
            return [.power(argv, delaySeconds: p.delaySeconds)]
        case .applyDeploymentPlan(let plan):
            let manager = plan.manager == .auto ? detected : plan.manager
            var steps: [AgentStep] = []
            if !plan.packages.isEmpty { steps += try Self.packageSteps(plan.packages, install: true, manager: manager) }
            steps += plan.files.map { .writeFile($0) }
            steps += plan.commands.map { .exec($0) }
            for s in plan.serviceActions { steps += try Self.serviceSteps(s, platform) }
            if !plan.packagesToRemove.isEmpty { steps += try Self.packageSteps(plan.packagesToRemove, install: false, manager: manager) }
            return steps
        }
    }

    static func packageSteps(_ packages: [String], install: Bool, manager: PackageManager) throws(UnsupportedOperation) -> [AgentStep] {
        switch manager {
        case .auto: throw UnsupportedOperation(message: "no package manager was detected on this host")
        case .apt: return [.exec(["apt-get", install ? "install" : "remove", "-y", "--"] + packages)]
        case .dnf: return [.exec(["dnf", install ? "install" : "remove", "-y"] + packages)]
        case .yum: return [.exec(["yum", install ? "install" : "remove", "-y"] + packages)]
        case .zypper: return [.exec(["zypper", "--non-interactive", install ? "install" : "remove"] + packages)]
        case .pacman: return [.exec(["pacman", install ? "-S" : "-R", "--noconfirm"] + packages)]
        case .apk: return [.exec(["apk", install ? "add" : "del"] + packages)]
        case .brew: return [.exec(["brew", install ? "install" : "uninstall"] + packages)]
        case .pkg: return [.exec(["pkg", install ? "install" : "delete", "-y"] + packages)]
        case .choco: return [.exec(["choco", install ? "install" : "uninstall", "-y"] + packages)]
        case .winget: return packages.map { .exec(["winget", install ? "install" : "uninstall", "--exact", "--silent", "--id", $0]) }
        }
    }

    static func serviceSteps(_ s: ServiceControl, _ platform: AgentPlatform) throws(UnsupportedOperation) -> [AgentStep] {
        switch platform {
        case .linux:
            return [.exec(["systemctl", s.action.rawValue, "--"] + s.services)]
        case .freebsd:
            return s.services.map { name in
                switch s.action {
                case .enable: .exec(["sysrc", "\(name)_enable=YES"])
                case .disable: .exec(["sysrc", "\(name)_enable=NO"])
                default: .exec(["service", name, s.action.rawValue])
                }
            }
        case .macos:
            var steps: [AgentStep] = []
            for name in s.services {
                let target = "system/\(name)"
                switch s.action {
                case .start: steps.append(.exec(["launchctl", "kickstart", target]))
                case .restart: steps.append(.exec(["launchctl", "kickstart", "-k", target]))
                case .stop: steps.append(.exec(["launchctl", "kill", "TERM", target]))
                case .enable: steps.append(.exec(["launchctl", "enable", target]))
                case .disable: steps.append(.exec(["launchctl", "disable", target]))
                case .reload: throw UnsupportedOperation(message: "launchd has no reload")
                }
            }
            return steps
        case .windows:
            var steps: [AgentStep] = []
            for name in s.services {
                switch s.action {
                case .start: steps.append(.exec(["sc.exe", "start", name]))
                case .stop: steps.append(.exec(["sc.exe", "stop", name]))
                case .restart: steps += [.exec(["sc.exe", "stop", name]), .exec(["sc.exe", "start", name])]
                case .enable: steps.append(.exec(["sc.exe", "config", name, "start=", "auto"]))
                case .disable: steps.append(.exec(["sc.exe", "config", name, "start=", "disabled"]))
                case .reload: throw UnsupportedOperation(message: "Windows services have no reload")
                }
            }
            return steps
        }
    }
}
