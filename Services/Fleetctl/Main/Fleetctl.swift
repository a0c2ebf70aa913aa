import ArgumentParser
import FleetCore
import FleetctlKit
import Foundation
import Synchronization

@main
struct Fleetctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetctl",
        abstract: "Fleet Engine from the command line, over the gateway's HTTP API.",
        discussion: """
            The gateway's URL comes from --url, else FLEET_URL, else the context's url, else http://127.0.0.1:8080; \
            the token from --token-file, else FLEET_TOKEN, else the context's token_file (never the command line, \
            which every user of the host can read). Contexts live in ~/.config/fleetctl/config.json (FLEETCTL_CONFIG \
            names another file): {"current_context": "prod", "contexts": {"prod": {"url": "...", "token_file": "...", \
            "output": "json" or "table"}}}; --context (or FLEET_CONTEXT) picks one.

            Exit status: 0 done (an operation waited for succeeded); 1 an error (the gateway refused, or could not be \
            reached); 2 an operation waited for ended failed, partial or cancelled; 3 a wait that timed out; \
            64 a usage error (an unknown flag, a bad value).

            Completion: fleetctl --generate-completion-script bash|zsh|fish (make run installs them, and the man page).
            """,
        version: FleetVersion.current,
        subcommands: [Hosts.self, Select.self, Groups.self, Bulk.self, Rolling.self, Schedules.self, Budgets.self, Windows.self, Audit.self])
}

/// Options every command takes.
struct Global: ParsableArguments {
    @Option(help: "Gateway URL (default: FLEET_URL, else the context's, else http://127.0.0.1:8080).") var url: String?
    @Option(help: "A file holding the API token (default: FLEET_TOKEN, else the context's token_file).") var tokenFile: String?
    @Option(help: "A context of ~/.config/fleetctl/config.json (default: FLEET_CONTEXT, else its current_context).") var context: String?
    @Flag(help: "Print the gateway's JSON instead of tables (default: the context's output).") var json = false

    /// The configuration file's context, read once per command; a bad file is a usage error.
    private var settings: FleetctlConfig.Context {
        let env = ProcessInfo.processInfo.environment
        do {
            let config = try FleetctlConfig.load(path: FleetctlConfig.defaultPath(env), home: env["HOME"] ?? NSHomeDirectory())
            return try config.context(named: context ?? env["FLEET_CONTEXT"].flatMap { $0.isEmpty ? nil : $0 })
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }

    var client: GatewayClient {
        // A variable set empty is not set (`FLEET_TOKEN= fleetctl ...` falls back to the context).
        let env = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let settings = settings
        let token = Self.token(inFile: tokenFile) ?? env["FLEET_TOKEN"] ?? Self.token(inFile: settings.tokenFile)
        return GatewayClient(baseURL: url ?? env["FLEET_URL"] ?? settings.url ?? "http://127.0.0.1:8080", token: token)
    }

    /// Whether to print JSON: the flag, else the context's output.
    var printsJSON: Bool { json || (settings.json ?? false) }

    /// The token in a file, without surrounding whitespace (a trailing newline, say).
    private static func token(inFile path: String?) -> String? {
        guard let path else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            FileHandle.standardError.write(Data("error: cannot read the token file \(path)\n".utf8))
            return nil
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One call, its answer shown (the list under `key` as a table of `columns`), errors reported.
    func request(
        _ method: GatewayClient.Method, _ path: String, _ body: JSONValue? = nil, list key: String? = nil,
        columns: [String] = []
    ) async throws {
        try await FleetctlMain.run { show(try await client.call(method, path, body), list: key, columns: columns) }
    }

    /// Prints an object, or the list under `key` as a table of `columns`.
    func show(_ value: JSONValue, list key: String? = nil, columns: [String] = []) {
        if printsJSON { return print(Rendering.json(value)) }
        if let key, let rows = value[key]?.arrayValue {
            print(Rendering.table(rows, columns: columns))
            if let next = value["next_cursor"], next != .null { print("(more: --cursor \(Rendering.text(next)))") }
        } else {
            print(Rendering.object(value))
        }
    }
}

enum FleetctlMain {
    /// Runs `body`, turning gateway, connection and input errors into a message on stderr and exit status 1.
    static func run(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let e as GatewayClient.Failure {
            FileHandle.standardError.write(Data((e.description + "\n").utf8))
            throw ExitCode(1)
        } catch let e as RequestBuilder.Failure {
            FileHandle.standardError.write(Data(("error: \(e.description)\n").utf8))
            throw ExitCode(1)
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data(("error: cannot reach the gateway: \(error)\n").utf8))
            throw ExitCode(1)
        }
    }
}

func seg(_ s: String) -> String { GatewayClient.segment(s) }

/// Selector flags shared by select, bulk, rolling and schedules.
struct SelectorFlags: ParsableArguments {
    @Option(help: "Hosts with any of these tags (comma-separated).") var tags: String?
    @Option(help: "Hosts on any of these platforms.") var platforms: String?
    @Option(help: "These host ids.") var hosts: String?
    @Option(help: "Members of any of these groups.") var groups: String?
    @Flag(help: "Every host.") var all = false

    func apply(_ b: inout RequestBuilder) { b.selector(tags: tags, platforms: platforms, hosts: hosts, groups: groups, all: all) }
}

/// What an operation runs: shared by bulk, rolling and schedules.
struct OperationFlags: ParsableArguments {
    @Option(name: .customLong("type"), help: "The operation type.") var type: OperationType?
    @Option(name: .customLong("param"), help: "A parameter, key=value (repeatable; JSON values are parsed).") var params: [String] = []
    @Option(help: "The request body as JSON, or @file; the other flags set fields on top of it.") var body: String?
    @OptionGroup var selector: SelectorFlags
    @Option(help: "A host another operation holds: wait for it, or skip it.") var onConflict: LockConflict?
    @Flag(name: .customLong("no-exclusive"), help: "Take no host locks: run beside other operations on the same hosts.") var notExclusive = false

    func builder() throws -> RequestBuilder {
        var b = try RequestBuilder(body: body)
        b.set("operation_type", type.map { .string($0.rawValue) })
        b.set("on_conflict", onConflict.map { .string($0.rawValue) })
        if notExclusive { b.set("exclusive", false) }
        selector.apply(&b)
        try b.parameters(params)
        return b
    }
}

/// Set by the event stream when something happened to the watched record.
final class Wake: Sendable {
    private let state = Mutex((pending: true, streaming: true))
    func ring() { state.withLock { $0.pending = true } }
    func streamEnded() { state.withLock { $0.streaming = false } }
    /// Whether to read the progress now, and whether the stream still runs.
    func take() -> (due: Bool, streaming: Bool) {
        state.withLock { s in
            defer { s.pending = false }
            return (s.pending, s.streaming)
        }
    }
}

/// Watches until the operation ends, drawing a progress bar on stderr; exits 0 only if it succeeded.
/// With `events` (the query of `GET /events`), the progress is read again when an event says it
/// moved (at most every 200 ms, and every 5 s regardless); without it, or once the stream fails,
/// every 500 ms.
func watch(
    _ client: GatewayClient, path: String, progressOf: @escaping (JSONValue) -> JSONValue, timeout: Int, events: String? = nil
) async throws -> Never {
    let wake = Wake()
    if let events {
        Task {
            try? await client.events(events) { _ in wake.ring() }
            wake.streamEnded()
            wake.ring()
        }
    } else {
        wake.streamEnded()
    }
    var lastRead = ContinuousClock.now
    let start = Date()
    let tty = isatty(STDERR_FILENO) == 1
    var last = ""
    while true {
        let answer = try await client.call(.GET, path)
        let progress = progressOf(answer)
        let status = answer["status"]?.stringValue ?? progress["status"]?.stringValue
        let line = Rendering.progressLine(progress, elapsed: Date().timeIntervalSince(start)) + "  " + (status ?? "?")
        // A terminal redraws the line (the ETA moves); a log gets a line only when the counts do.
        let key = tty ? line : Rendering.progressLine(progress, elapsed: 0) + (status ?? "?")
        if key != last {
            FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + line + (tty ? "" : "\n")).utf8))
            last = key
        }
        let settled = ["succeeded", "partial", "failed", "cancelled"].contains(status ?? "") && progress["running"]?.intValue == 0
        if settled {
            if tty { FileHandle.standardError.write(Data("\n".utf8)) }
            throw ExitCode(Rendering.exitCode(forStatus: status))
        }
        if timeout > 0, Date().timeIntervalSince(start) > Double(timeout) {
            FileHandle.standardError.write(Data("\nstill running after \(timeout) s\n".utf8))
            throw ExitCode(3)  // the exit status of a wait that timed out
        }
        // Streaming: wait for an event (checked locally), or 5 s; polling: 500 ms.
        while true {
            try await Task.sleep(for: .milliseconds(200))
            let (due, streaming) = wake.take()
            if !streaming || due || ContinuousClock.now - lastRead >= .seconds(5) { break }
        }
        lastRead = ContinuousClock.now
    }
}
