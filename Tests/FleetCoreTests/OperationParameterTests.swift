import Testing

@testable import FleetCore

@Suite("operation parameters")
struct OperationParameterTests {
    private func errorFields(_ type: OperationType, _ json: JSONValue?) -> [String] {
        do {
            _ = try OperationParameters(type: type, json: json)
            return []
        } catch {
            return error.errors.map(\.field)
        }
    }

    @Test func runScriptDefaultsAndSubstitution() throws {
        let p = try OperationParameters(type: .runScript, json: ["content": "echo ${who} ${missing} $${who}", "parameter_values": ["who": "ops", "n": 3]])
        guard case .runScript(let s) = p else {
            Issue.record("wrong case")
            return
        }
        #expect(s.shell == .bash)
        #expect(s.timeoutSeconds == 300)
        #expect(s.renderedContent == "echo ops ${missing} $ops")
        #expect(try p.steps(platform: .linux, manager: .apt) == [.script(.bash, content: "echo ops ${missing} $ops")])
        #expect(throws: UnsupportedOperation.self) { try p.steps(platform: .windows, manager: .choco) }
    }

    @Test(
        arguments: [
            (OperationType.runScript, ["shell": "bash"], "parameters.content"),
            (.runScript, ["content": "x", "shell": "fish"], "parameters.shell"),
            (.runScript, ["content": "x", "timeout_seconds": 0], "parameters.timeout_seconds"),
            (.runScript, ["content": "x", "timeout_seconds": 86_401], "parameters.timeout_seconds"),
            (.runScript, ["content": "x", "parameter_values": ["1bad": "x"]], "parameters.parameter_values.1bad"),
            (.runScript, ["content": "x", "packages": ["a"]], "parameters.packages"),
            (.runScript, ["content": .string(String(repeating: "x", count: (1 << 20) + 1))], "parameters.content"),
            (.deployFile, ["path": "etc/x", "content": "x"], "parameters.path"),
            (.deployFile, ["path": "/etc/../x", "content": "x"], "parameters.path"),
            (.deployFile, ["path": "/etc//x", "content": "x"], "parameters.path"),
            (.deployFile, ["path": "/etc/x/", "content": "x"], "parameters.path"),
            (.deployFile, ["path": "/etc/./x", "content": "x"], "parameters.path"),
            (.deployFile, ["path": "/etc/x\u{0}y", "content": "x"], "parameters.path"),
            (.deployFile, ["path": "/etc/x", "content": "***", "encoding": "base64"], "parameters.content"),
            (.deployFile, ["path": "/etc/x", "content": "x", "mode": "0999"], "parameters.mode"),
            (.deployFile, ["path": "/etc/x", "content": "x", "owner_uid": -1], "parameters.owner_uid"),
            (.deployFile, ["path": "/etc/x"], "parameters.content"),
            (.serviceControl, ["action": "bounce", "services": ["nginx"]], "parameters.action"),
            (.serviceControl, ["action": "restart", "services": []], "parameters.services"),
            (.serviceControl, ["action": "restart", "services": ["nginx; rm -rf /"]], "parameters.services[0]"),
            (.serviceControl, ["action": "restart", "services": ["-H"]], "parameters.services[0]"),
            (.serviceControl, ["services": ["nginx"]], "parameters.action"),
            (.installPackage, ["packages": ["-y"]], "parameters.packages[0]"),
            (.installPackage, ["packages": ["nginx", "a b"]], "parameters.packages[1]"),
            (.installPackage, ["packages": []], "parameters.packages"),
            (.installPackage, ["packages": ["nginx"], "manager": "npm"], "parameters.manager"),
            (.removePackage, [:], "parameters.packages"),
            (.reboot, ["delay_seconds": 3601], "parameters.delay_seconds"),
            (.shutdown, ["delay": 5], "parameters.delay"),
            (.applyDeploymentPlan, [:], "parameters.plan"),
            (.applyDeploymentPlan, ["plan": [:]], "parameters.plan"),
            (.applyDeploymentPlan, ["plan": ["commands": ["ls -la"]]], "parameters.plan.commands[0]"),
            (.applyDeploymentPlan, ["plan": ["commands": [[]]]], "parameters.plan.commands[0]"),
            (.applyDeploymentPlan, ["plan": ["files": [["path": "rel", "content": "x"]]]], "parameters.plan.files[0].path"),
            (.applyDeploymentPlan, ["plan": ["service_actions": [["action": "start", "services": ["-x"]]]]], "parameters.plan.service_actions[0].services[0]"),
            (.applyDeploymentPlan, ["plan": ["packages_to_remove": ["--purge"]]], "parameters.plan.packages_to_remove[0]"),
            (.applyDeploymentPlan, ["plan": ["packages": ["a"], "extra": 1]], "parameters.plan.extra"),
            (.reboot, "now", "parameters"),
        ] as [(OperationType, JSONValue?, String)])
    func invalidParametersNameTheField(type: OperationType, json: JSONValue?, field: String) {
        #expect(errorFields(type, json).contains(field), "\(errorFields(type, json))")
    }

    @Test(
        arguments: [
            (OperationType.runScript, .object(["content": "echo hi", "shell": "sh", "timeout_seconds": 86_400])),
            (.deployFile, ["path": "/etc/app/app.conf", "content": "aGk=", "encoding": "base64", "mode": "0640", "owner_uid": 0, "backup": true]),
            (.deployFile, ["path": "C:\\app\\app.conf", "content": "x"]),
            (.serviceControl, ["action": "reload", "services": ["nginx", "getty@tty1", "foo.service"]]),
            (.installPackage, ["packages": ["nginx", "libc6:amd64", "python3-yaml=6.0", "g++"], "manager": "apt"]),
            (.removePackage, ["packages": ["nginx"]]),
            (.reboot, nil), (.shutdown, ["delay_seconds": 60]),
            (.applyDeploymentPlan, ["plan": ["packages": ["nginx"], "commands": [["nginx", "-t"]]]]),
        ] as [(OperationType, JSONValue?)])
    func validParametersRoundTripThroughTheirCanonicalForm(type: OperationType, json: JSONValue?) throws {
        let p = try OperationParameters(type: type, json: json)
        #expect(p.type == type)
        #expect(try OperationParameters(type: type, json: p.json) == p)
    }

    @Test func deployFileDecodesBase64AndParsesOctalMode() throws {
        guard
            case .deployFile(let f) = try OperationParameters(type: .deployFile, json: ["path": "/x", "content": "aGk=", "encoding": "base64", "mode": "0755"])
        else {
            Issue.record("wrong case")
            return
        }
        #expect(f.content == Array("hi".utf8))
        #expect(f.mode == 0o755)
    }

    @Test func packageCommandsAreArgvPerManager() throws {
        let p = try OperationParameters(type: .installPackage, json: ["packages": ["nginx", "curl"]])
        #expect(try p.steps(platform: .linux, manager: .apt) == [.exec(["apt-get", "install", "-y", "--", "nginx", "curl"])])
        #expect(try p.steps(platform: .linux, manager: .dnf) == [.exec(["dnf", "install", "-y", "nginx", "curl"])])
        #expect(
            try p.steps(platform: .windows, manager: .winget) == [
                .exec(["winget", "install", "--exact", "--silent", "--id", "nginx"]), .exec(["winget", "install", "--exact", "--silent", "--id", "curl"]),
            ])
        #expect(throws: UnsupportedOperation.self) { try p.steps(platform: .linux, manager: .auto) }
        let explicit = try OperationParameters(type: .removePackage, json: ["packages": ["nginx"], "manager": "pacman"])
        #expect(try explicit.steps(platform: .linux, manager: .apt) == [.exec(["pacman", "-R", "--noconfirm", "nginx"])])
    }

    @Test func serviceCommandsPerPlatform() throws {
        let p = try OperationParameters(type: .serviceControl, json: ["action": "restart", "services": ["nginx", "redis"]])
        #expect(try p.steps(platform: .linux, manager: .apt) == [.exec(["systemctl", "restart", "--", "nginx", "redis"])])
        #expect(try p.steps(platform: .freebsd, manager: .pkg) == [.exec(["service", "nginx", "restart"]), .exec(["service", "redis", "restart"])])
        #expect(try p.steps(platform: .windows, manager: .choco).count == 4)
        let reload = try OperationParameters(type: .serviceControl, json: ["action": "reload", "services": ["x"]])
        #expect(throws: UnsupportedOperation.self) { try reload.steps(platform: .macos, manager: .brew) }
    }

    @Test func planRunsInItsFixedOrder() throws {
        let p = try OperationParameters(
            type: .applyDeploymentPlan,
            json: [
                "plan": [
                    "packages_to_remove": ["old"], "service_actions": [["action": "restart", "services": ["app"]]],
                    "commands": [["app", "--migrate"]], "files": [["path": "/etc/app.conf", "content": "x"]], "packages": ["app"],
                ]
            ])
        let steps = try p.steps(platform: .linux, manager: .apt)
        #expect(steps.count == 5)
        #expect(steps[0] == .exec(["apt-get", "install", "-y", "--", "app"]))
        if case .writeFile(let f) = steps[1] { #expect(f.path == "/etc/app.conf") } else { Issue.record("file second") }
        #expect(steps[2] == .exec(["app", "--migrate"]))
        #expect(steps[3] == .exec(["systemctl", "restart", "--", "app"]))
        #expect(steps[4] == .exec(["apt-get", "remove", "-y", "--", "old"]))
        #expect(OperationType.applyDeploymentPlan.feature == "fleet_config_deployment")
        #expect(OperationType.runScript.feature == "fleet_bulk_operations")
    }

    @Test func powerActionsReportFirstThenWait() throws {
        let p = try OperationParameters(type: .reboot, json: ["delay_seconds": 30])
        #expect(try p.steps(platform: .linux, manager: .apt) == [.power(["shutdown", "-r", "now"], delaySeconds: 30)])
        #expect(try p.steps(platform: .windows, manager: .choco) == [.power(["shutdown", "/r", "/t", "0"], delaySeconds: 30)])
    }

    /// Closed choices are exact, as docs/openapi.yaml's enums are: `REBOOT` is not `reboot` (the
    /// gateway's feature check on `apply_deployment_plan` compares the value as sent).
    @Test func choicesAreExact() {
        #expect(throws: ValidationError.self) { try OperationParameters(type: .runScript, json: ["content": "x", "shell": "SH"]) }
        #expect(throws: ValidationError.self) {
            try BulkOperationRequest(json: ["operation_type": "APPLY_DEPLOYMENT_PLAN", "selector": ["all_hosts": true], "parameters": ["plan": [:]]])
        }
    }
}
