import FleetContracts
import FleetCore
import Foundation
import Logging

/// How a process writes its log (`FLEET_LOG_FORMAT`).
public enum LogFormat: String, CaseIterable, Sendable {
    /// swift-log's line for people: `2026-12-02T07:39:27+0000 info fleet.gateway : request_id=... message`.
    case text
    /// One JSON object per line for log shippers: `{"ts", "level", "logger", "message", ...metadata}`.
    case json
}

/// The one logging bootstrap of every process: its level and format, and the request the current
/// task works for (`RequestID.current`) as `request_id` on every line.
public enum FleetLogging {
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        let provider = Logger.MetadataProvider { RequestID.current.map { ["request_id": .string($0)] } ?? [:] }
        LoggingSystem.bootstrap(
            { label, metadataProvider in
                switch format {
                case .text:
                    var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
                    handler.logLevel = level
                    return handler
                case .json:
                    return JSONLogHandler(label: label, logLevel: level, metadataProvider: metadataProvider)
                }
            }, metadataProvider: provider)
    }
}

/// Writes each record as one JSON line on stderr, in a single `write(2)` so lines of concurrent
/// tasks never interleave.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    public init(label: String, logLevel: Logger.Level, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.line(
            date: Date(), level: event.level, label: label, message: event.message.description, metadata: merged)
        line.withCString { pointer in _ = write(2, pointer, strlen(pointer)) }
    }

    /// The record as one line of JSON (the fixed keys first, then the metadata by key).
    static func line(date: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var fields: [(String, JSONValue)] = [
            ("ts", .string(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))), ("level", .string(level.rawValue)),
            ("logger", .string(label)), ("message", .string(message)),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !["ts", "level", "logger", "message"].contains(key) {
            fields.append((key, json(value)))
        }
        let body = fields.map { key, value in
            String(decoding: JSONCoding.encode(.string(key)), as: UTF8.self) + ":" + String(decoding: JSONCoding.encode(value), as: UTF8.self)
        }
        return "{" + body.joined(separator: ",") + "}\n"
    }

    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(d.mapValues(json))
        }
    }
}
