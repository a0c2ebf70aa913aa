import FleetContracts
import FleetCore
import Foundation
import Hummingbird

/// `GET /events?operation=ID|rollout=ID|schedule=ID`: Server-Sent Events of one record, from
/// `fleet.events` through the gateway's `EventHub`. First a `snapshot` event (the record's progress
/// as `GET` answers it, read after the subscription, so nothing between the two is missed), then
/// each event as it happens (`host`, `batch`, `halted`, `finished`, `fired`), a comment every 15 s
/// so proxies and dead clients show, and, for an operation or a rollout, the end of the stream after
/// its `finished`.
extension Gateway {
    func eventRoutes(_ router: Router<Context>) {
        route(router, .get, "events", .read, nil) { r, _ in try await events(r) }
    }

    private enum Watched {
        case operation(String), rollout(String), schedule(String)
    }

    private func events(_ r: Request) async throws -> Response {
        let q = r.uri.queryParameters
        let given = ["operation", "rollout", "schedule"].compactMap { name in q.get(name).map { (name, String($0)) } }
        guard given.count == 1, let (name, id) = given.first else {
            return JSONResponse.from(
                .validation(ValidationError("operation", .required, "name exactly one of operation, rollout or schedule (an id)")))
        }
        guard RecordID.isValid(id) else {
            return JSONResponse.from(.validation(ValidationError(name, .invalidValue, "\(name) is an id (\(RecordID.rule))")))
        }
        let watched: Watched = name == "operation" ? .operation(id) : name == "rollout" ? .rollout(id) : .schedule(id)
        // The record first: an unknown one is a 404, not an empty stream.
        var keys: Set<String>
        var snapshotRoute: String
        switch watched {
        case .operation(let op):
            keys = [EventRoute.bulkHost(op), EventRoute.bulkFinished(op)]
            snapshotRoute = Route.bulkGet
        case .rollout(let ro):
            let found = await bus.call(Route.rollingGet, ["id": .string(ro)])
            guard found.status == 200, let op = found.body?["bulk_operation_id"]?.stringValue else { return JSONResponse.from(found) }
            keys = [EventRoute.rollingBatch(ro), EventRoute.rollingHalted(ro), EventRoute.rollingFinished(ro), EventRoute.bulkHost(op)]
            snapshotRoute = Route.rollingGet
        case .schedule(let sch):
            keys = [EventRoute.scheduleFired(sch)]
            snapshotRoute = Route.schedulesGet
        }
        let subscription: (UInt64, AsyncStream<EventHub.Item>)
        do {
            var followsFires = false
            if case .schedule = watched { followsFires = true }
            subscription = try await events.subscribe(keys: keys, followsFires: followsFires)
        } catch {
            return JSONResponse.error(503, "unavailable", "the message bus is unavailable: \(error)")
        }
        let (subscriber, stream) = subscription
        let snapshot = await bus.call(snapshotRoute, ["id": .string(id)])
        guard snapshot.status == 200, let record = snapshot.body else {
            await events.unsubscribe(subscriber)
            return JSONResponse.from(snapshot)
        }
        let endsWith: Set<String> =
            switch watched {
            case .operation(let op): [EventRoute.bulkFinished(op)]
            case .rollout(let ro): [EventRoute.rollingFinished(ro)]
            case .schedule: []
            }
        let finishedAlready = endsWith.isEmpty ? false : (record["status"]?.stringValue.map(Self.terminal.contains) ?? false)
        let hub = events
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                do {
                    try await writer.write(ByteBuffer(string: "retry: 3000\n\n" + Self.sse("snapshot", JSONCoding.encode(record))))
                    if !finishedAlready {
                        for await item in stream {
                            switch item {
                            case .heartbeat:
                                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            case .event(let key, let body):
                                try await writer.write(ByteBuffer(string: Self.sse(String(key.split(separator: ".").last ?? ""), body)))
                            }
                            if case .event(let key, _) = item, endsWith.contains(key) { break }
                        }
                    }
                    await hub.unsubscribe(subscriber)
                    try await writer.finish(nil)
                } catch {
                    await hub.unsubscribe(subscriber)  // the client went away
                    throw error
                }
            })
    }

    static let terminal: Set<String> = ["succeeded", "partial", "failed", "cancelled"]

    /// One SSE event: its name and its data (JSON on one line: the encoder writes no newline).
    static func sse(_ name: String, _ data: [UInt8]) -> String {
        "event: \(name)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
    }
}
