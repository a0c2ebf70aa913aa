import ArgumentParser
import FleetCore
import FleetctlKit
import Foundation

struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The inventory.", subcommands: [List.self, Get.self, Put.self, Add.self, Delete.self])
    static let columns = ["id", "fqdn", "platform", "platform_release", "approval_status", "tags"]

    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        @OptionGroup var page: PageFlags
        func run() async throws {
            try await global.request(.GET, page.path("/hosts"), list: "hosts", columns: Hosts.columns)
        }
    }
    struct Get: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/hosts/\(seg(id))") }
    }
    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or replace one host.")
        @OptionGroup var global: Global
        @Argument var id: String
        @Option(help: "The host as JSON, or @file.") var body: String
        func run() async throws {
            try await global.request(.PUT, "/hosts/\(seg(id))", try RequestBuilder(body: body).json)
        }
    }
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upsert many hosts: --body '{\"hosts\": [...]}' (or @file).")
        @OptionGroup var global: Global
        @Option var body: String
        func run() async throws {
            try await global.request(.POST, "/hosts", try RequestBuilder(body: body).json)
        }
    }
    struct Delete: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.DELETE, "/hosts/\(seg(id))") }
    }
}

struct Select: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resolve a selector to host ids.")
    @OptionGroup var global: Global
    @OptionGroup var selector: SelectorFlags
    @Option(help: "A selector as JSON, or @file; the flags add to it.") var body: String?
    @Flag(help: "Say which clause let each host in.") var explain = false
    func run() async throws {
        try await FleetctlMain.run {
            var b = try RequestBuilder(
                body: body.map { "{\"selector\": \($0.hasPrefix("@") ? (try String(contentsOfFile: String($0.dropFirst()), encoding: .utf8)) : $0)}" })
            selector.apply(&b)
            var s = b.json["selector"]?.objectValue ?? [:]
            if explain { s["explain"] = true }
            let answer = try await global.client.call(.POST, "/select", .object(s))
            if global.printsJSON || explain { return print(Rendering.json(answer)) }
            print((answer["host_ids"]?.arrayValue ?? []).map { Rendering.text($0) }.joined(separator: "\n"))
            FileHandle.standardError.write(Data("\(Rendering.text(answer["count"])) hosts\n".utf8))
        }
    }
}

struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Host groups.", subcommands: [List.self, Get.self, Create.self, Delete.self, Members.self])
    struct List: AsyncParsableCommand {
        @OptionGroup var global: Global
        @OptionGroup var page: PageFlags
        @Option(help: "Only the children of this group (root: the top level).") var parent: String?
        func run() async throws {
            var path = page.path("/groups")
            if let parent { path += (path.contains("?") ? "&" : "?") + "parent_id=\(seg(parent))" }
            try await global.request(.GET, path, list: "groups", columns: ["id", "name", "parent_id", "criteria"])
        }
    }
    struct Get: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/groups/\(seg(id))") }
    }
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update a group from --body (JSON or @file).")
        @OptionGroup var global: Global
        @Option var body: String
        func run() async throws {
            try await global.request(.POST, "/groups", try RequestBuilder(body: body).json)
        }
    }
    struct Delete: AsyncParsableCommand {
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.DELETE, "/groups/\(seg(id))") }
    }
    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hosts", abstract: "The group's hosts now.")
        @OptionGroup var global: Global
        @Argument var id: String
        func run() async throws { try await global.request(.GET, "/groups/\(seg(id))/hosts") }
    }
}
