import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// The bulk dispatcher's commands: create (validate, resolve, snapshot, persist, skip hosts that
/// are not approved, dispatch to agents), claim (an agent's queued -> running), get, list,
/// progress, per-host statuses, cancel. Results arrive through `ResultsConsumer`.
public struct BulkHandlers: Sendable {
    let engine: BulkEngine
    /// Agents' claims, written together while the batch before is being written (`ClaimBatch`).
    let claims: GroupCommit<ClaimRequest, ClaimReply>
    var context: ServiceContext { engine.context }
    var store: HostTransitionStore { engine.store }

    init(engine: BulkEngine) {
        self.engine = engine
        claims = GroupCommit { [engine] requests in await ClaimBatch.write(requests, engine) }
    }

    /// The handlers, the results consumer and the deadline sweeper around one engine.
    @Sendable public static func assemble(_ context: ServiceContext) -> ServiceAssembly {
        let engine = BulkEngine(context: context)
        return ServiceAssembly(
            routes: BulkHandlers(engine: engine).routes.merging(BudgetHandlers(context: context).routes) { a, _ in a },
            background: [
                ResultsConsumer(engine: engine), DeadlineSweeper(engine: engine), BulkRetentionSweeper(engine: engine),
                BulkReconcilerService(engine: engine), WaitingHosts(engine: engine), WebhookSender(engine.webhooks, context: context),
                FleetGauges(redis: context.redis, logger: context.logger, read: FleetGauges.operations),
            ])
    }

    public var routes: [String: CommandHandler] {
        [
            Route.bulkCreate: { r in await create(body: r.body, messageID: r.messageID) },
            Route.bulkRerun: { r in await rerun(r) },
            Route.bulkGet: { r in await answer(context.logger) { try await record(r.requiredString()).json } },
            Route.bulkProgress: { r in await answer(context.logger) { try await progress(r.requiredString()).json } },
            Route.bulkHosts: { r in await answer(context.logger) { try await hosts(r).json } },
            Route.bulkList: { r in await answer(context.logger) { try await list(r).json } },
            Route.bulkCancel: { r in await answer(context.logger) { try await cancel(BulkCancel(json: r.body)).json } },
            Route.bulkClaim: { r in
                await answer(context.logger) {
                    let request = try ClaimRequest(json: r.body)
                    try r.requireSender(speaksFor: request.hostIDs)
                    return try await claim(request).json
                }
            },
            Route.bulkDispatch: { r in await answer(context.logger) { try await dispatchNamed(BulkDispatch(json: r.body)).json } },
            Route.bulkParameters: { r in await answer(context.logger) { try await parameters(ParametersChunkRequest(json: r.body), from: r).json } },
        ]
    }

    /// 201 with the operation; 422 for bad input or an empty selection (`no_targets`) unless
    /// `allow_empty`; the same `message_id` (Idempotency-Key) and body return the original (200),
    /// another body with it is a 409. The key is held as a lease while the operation is written
    /// (`IdempotencyLease`).
    func create(body: JSONValue, messageID: String?, parentID: String? = nil) async -> BusReply {
        let request: BulkOperationRequest
        do { request = try BulkOperationRequest(json: body) } catch { return .validation(error) }
        if let notify = request.notify, !notify.isAllowed(by: context.config.webhookHosts) {
            return .validation(ValidationError("notify.url", .invalidValue, "the webhook's host is not one FLEET_WEBHOOK_HOSTS lists"))
        }
        if request.dryRun { return await plan(request) }  // creates nothing, so takes no Idempotency-Key
        let canonical = String(decoding: JSONCoding.encode(body), as: UTF8.self)
        let opID = newID(prefix: "op-")
        let lease = IdempotencyLease(redis: context.redis, leaseSeconds: max(60, 2 * Int(context.config.requestTimeout.components.seconds)))
        if let key = messageID {
            let taken = await answer(context.logger) {
                switch try await lease.take(key, for: opID) {
                case .ours: return .null
                case .heldBy(let holder): return .string(holder)
                }
            }
            if taken.status != 200 { return taken }
            if let existing = taken.body?.stringValue {
                let original: String?
                do { original = try await context.redis.send("HGET", RedisKeys.bulkOperation(existing), "request").string } catch {
                    return .failure(503, "unavailable", "Redis is unavailable: \(error)")
                }
                if let original {
                    guard original == canonical else {
                        return .failure(409, "idempotency_conflict", "this Idempotency-Key was used with another body")
                    }
                    return await answer(context.logger) { try await record(existing).json }
                }
                guard (try? await lease.takeOver(key, from: existing, for: opID)) == true else {
                    return .failure(409, "idempotency_in_progress", "an operation with this Idempotency-Key is being created; retry")
                }
            }
        }
        let recorded = RecordWritten()
        let reply = await persist(request, opID: opID, canonical: canonical, parentID: parentID) {
            if let key = messageID, try await !lease.keep(key, for: opID) {
                throw BusReplyError(
                    .failure(503, "idempotency_lease_lost", "the create outlived its hold on the Idempotency-Key; retry with the same key"))
            }
            await recorded.set()
        }
        if reply.status >= 300, let key = messageID, await !recorded.value {
            try? await lease.giveBack(key, for: opID)  // a create that wrote no record holds no key
        }
        return reply
    }

    /// `bulk.rerun`: a new operation with the original's type, parameters and limits over exactly
    /// its hosts whose final status (and reason) the request names, `parent_id` naming the
    /// original. 404 for no such operation; 422 `no_hosts_match` when no host matches. The
    /// message id (an Idempotency-Key) makes a repeated rerun one operation.
    func rerun(_ r: BusRequest) async -> BusReply {
        let rerun: RerunRequest
        do { rerun = try RerunRequest(json: r.body) } catch { return .validation(error) }
        let original: String?
        let hosts: [String]
        do {
            original = try await context.redis.send("HGET", RedisKeys.bulkOperation(rerun.id), "request").string
            hosts = try await BulkRecords(context.redis).matching(rerun.id, rerun)
        } catch { return .failure(503, "unavailable", "Redis is unavailable: \(error)") }
        guard let original, case .object(let body)? = JSONCoding.decode(Array(original.utf8)) else {
            return .failure(404, "not_found", "no bulk operation '\(rerun.id)'")
        }
        if let refusal = RerunRequest.refusal(matching: hosts.count) { return refusal }
        let again = RerunRequest.create(rerunning: body, hosts: hosts, messageID: r.messageID)
        return await create(body: again.body, messageID: again.messageID, parentID: rerun.id)
    }

    /// The hosts a create takes (partitioned by approval), or what it answers instead: the
    /// selector's refusal, or 422 `no_targets` for an empty selection without `allow_empty`.
    private func targets(_ request: BulkOperationRequest) async -> Result<ResolveReply, Refusal> {
        let resolve = ResolveRequest(selector: request.selectorJSON, partitionByApproval: true)
        switch await context.bus.call(Route.selectorResolve, resolve, replying: ResolveReply.self) {
        case .success(let targets):
            guard !targets.hostIDs.isEmpty || request.allowEmpty else {
                return .failure(
                    Refusal(reply: .failure(422, "no_targets", "the selector resolved to no host (send \"allow_empty\": true to create it anyway)")))
            }
            return .success(targets)
        case .failure(let failure): return .failure(Refusal(reply: failure.reply))
        }
    }

    /// A reply that ends a create before it writes anything.
    struct Refusal: Error { let reply: BusReply }

    /// A dry run: 200 with what the create would do (the hosts, those skipped and why), or the
    /// 422 it would answer; nothing is written.
    func plan(_ request: BulkOperationRequest) async -> BusReply {
        switch await targets(request) {
        case .success(let targets): return .ok(PlanPreview(bulk: targets.hostIDs.sorted(), notApproved: Set(targets.notApprovedHostIDs ?? [])).json)
        case .failure(let refusal): return refusal.reply
        }
    }

    /// Writes the operation; `beforeRecord` runs just before its record is written (and may refuse it).
    private func persist(
        _ request: BulkOperationRequest, opID: String, canonical: String, parentID: String?, beforeRecord: @Sendable () async throws -> Void
    ) async -> BusReply {
        let targets: ResolveReply
        switch await self.targets(request) {
        case .success(let reply): targets = reply
        case .failure(let refusal): return refusal.reply
        }
        let hostIDs = targets.hostIDs
        let notApproved = targets.notApprovedHostIDs ?? []
        let reply = await answer(context.logger) {
            let created = context.clock.now
            // Parameters too large for every command are stored once, before any command names them.
            let (dispatchable, storedParameters, shownParameters) = DispatchableRequest.prepare(request)
            var operation = BulkOperation(
                id: opID, operationType: request.type.rawValue, parameters: shownParameters, selector: request.selectorJSON,
                allowEmpty: request.allowEmpty, deliveryTimeoutSeconds: request.deliveryTimeoutSeconds, concurrency: request.concurrency?.json ?? .null,
                createdAt: ISO8601DateFormatter().string(from: created), status: .queued,
                progress: BulkProgress(ProgressCounters(total: hostIDs.count)))
            operation.parametersRef = dispatchable.parametersRef
            operation.parentID = parentID
            operation.exclusive = request.exclusive
            operation.onConflict = request.onConflict.rawValue
            operation.notify = request.notify?.json
            if let storedParameters {
                try await context.redis.pipelineChecked([
                    // A day's expiry until the record is written (then kept with the operation): a
                    // create that dies before its record leaves no parameters for good.
                    RedisCommand(["SET", RedisKeys.bulkParameters(opID), String(decoding: storedParameters, as: UTF8.self), "EX", "86400"])
                ])
            }
            await engine.requests.remember(opID, dispatchable)
            try await store.create(operation: opID, hostIDs: hostIDs)
            if hostIDs.isEmpty { await engine.announceFinished(op: opID, .succeeded) }
            if !notApproved.isEmpty {
                let outcome = try await store.move(operation: opID, hosts: notApproved, to: .skipped, reason: .notApproved)
                try await engine.hostsEnded(op: opID, to: .skipped, reason: .notApproved, outcome)
            }
            let approved = Set(hostIDs).subtracting(notApproved).sorted()
            try await beforeRecord()
            _ = try await context.redis.pipeline(
                [
                    RedisCommand([
                        "HSET", RedisKeys.bulkOperation(opID), "record", String(decoding: operation.encoded, as: UTF8.self),
                        "request", canonical, "timeout_seconds", String(request.parameters.timeoutSeconds),
                        "operation_type", request.type.rawValue,
                    ]),
                    RedisCommand(["ZADD", RedisKeys.bulkIndex, String(Int(created.timeIntervalSince1970 * 1000)), opID]),
                ] + (storedParameters == nil ? [] : [RedisCommand(["PERSIST", RedisKeys.bulkParameters(opID)])]))
            if request.dispatch { try await engine.start(op: opID, hosts: approved, request: dispatchable) }
            let stored = try await self.record(opID)
            // Finished at creation (empty, all skipped or undeliverable): the record written just
            // now must expire too.
            if stored.status.isTerminal { try await engine.expire(opID) }
            return stored.json
        }
        return reply.created
    }

    /// The operation as stored, with its live aggregate status and progress.
    func record(_ opID: String) async throws -> BulkOperation {
        guard let text = try await context.redis.send("HGET", RedisKeys.bulkOperation(opID), "record").string,
            let (counters, status) = try await store.progress(operation: opID)
        else {
            throw BusReplyError.notFound("no bulk operation '\(opID)'")
        }
        var operation: BulkOperation
        if let typed = try? BulkOperation.decode(Array(text.utf8)) {
            operation = typed
        } else {
            // Written before the contract types: without status, total and progress (set below).
            guard case .object(var o)? = JSONCoding.decode(Array(text.utf8)) else { throw BusReplyError.notFound("no bulk operation '\(opID)'") }
            o["status"] = .string(status.rawValue)
            o["progress"] = BulkProgress(counters).json
            o["total"] = .int(Int64(counters.total))
            o["concurrency"] = o["concurrency"] ?? .null
            operation = try BulkOperation(json: .object(o))
        }
        operation.status = status
        operation.progress = BulkProgress(counters)
        operation.total = counters.total
        return operation
    }

    /// Exactly the seed's shape plus `skipped`: `{total, queued, running, succeeded, failed, skipped, percent_complete}`.
    func progress(_ opID: String) async throws -> BulkProgress {
        guard let (c, _) = try await store.progress(operation: opID) else { throw BusReplyError.notFound("no bulk operation '\(opID)'") }
        return BulkProgress(c)
    }

    /// Per-host statuses by host id, paged, optionally only one status.
    /// Walks the id-ordered index in chunks after the cursor, reading only those hosts' statuses,
    /// until the page is full: a page costs a few round trips, not the whole operation. With a
    /// status filter the last page can come back empty.
    func hosts(_ r: BusRequest) async throws -> BulkHostsPage {
        let opID = try r.requiredString()
        guard try await store.progress(operation: opID) != nil else { throw BusReplyError.notFound("no bulk operation '\(opID)'") }
        let wanted = try Self.statusFilter(r.body["status"])
        let limit = try r.limit(default: 100, max: 1000)
        let chunk = max(limit, 500)
        try await ensureOrderIndex(opID)
        var rows: [BulkHostsPage.Row] = []
        var position = try r.cursor().map { "(" + $0 } ?? "-"
        var more = true
        while rows.count < limit && more {
            let ids =
                try await context.redis.send(RedisCommand(["ZRANGEBYLEX", RedisKeys.bulkOrder(opID), position, "+", "LIMIT", "0", String(chunk)]))
                .array?.compactMap(\.string) ?? []
            more = ids.count == chunk
            guard !ids.isEmpty else { break }
            let entries = try await BulkRecords(context.redis).entries(opID, ids)
            let waiting = try await waitReasons(opID, ids)
            for (host, entry) in zip(ids, entries) {
                position = "(" + host
                guard let entry else { continue }
                if let wanted, entry.status != wanted { continue }
                let waits = entry.status == .queued ? waiting[host] : nil
                rows.append(BulkHostsPage.Row(hostID: host, status: entry.status, reason: entry.reason, waiting: waits))
                if rows.count == limit {
                    more = host != ids.last || more
                    break
                }
            }
        }
        return BulkHostsPage(hosts: rows, nextCursor: rows.count == limit && more ? rows.last?.hostID : nil)
    }

    /// Why each of `hosts` still waiting for a lock or a budget waits.
    private func waitReasons(_ opID: String, _ hosts: [String]) async throws -> [String: WaitReason] {
        let replies = try await context.redis.send(RedisCommand(["HMGET", RedisKeys.bulkWaiting(opID)] + hosts)).array ?? []
        var out: [String: WaitReason] = [:]
        for (host, reply) in zip(hosts, replies) { if let r = reply.string.flatMap(WaitReason.init(rawValue:)) { out[host] = r } }
        return out
    }

    /// The `status` filter of `bulk.hosts`: absent, or a host status (an unknown one is a 422, not
    /// an empty page).
    static func statusFilter(_ value: JSONValue?) throws(ValidationError) -> HostStatus? {
        guard let value, value != .null else { return nil }
        guard let s = value.stringValue, let status = HostStatus(rawValue: s) else {
            let all = HostStatus.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("status", .invalidValue, "status is one of \(all)")
        }
        return status
    }

    /// Operations created before the id-ordered index existed get it on first use.
    private func ensureOrderIndex(_ opID: String) async throws {
        guard try await context.redis.send("EXISTS", RedisKeys.bulkOrder(opID)).int == 0 else { return }
        let ids = (try await context.redis.send("HKEYS", RedisKeys.bulkHosts(opID)).array ?? []).compactMap(\.string)
        try await context.redis.pipelineChecked(RedisCommand.chunked(["ZADD", RedisKeys.bulkOrder(opID)], ids) { ["0", $0] })
    }

    /// Newest first.
    func list(_ r: BusRequest) async throws -> BulkOperationList {
        let limit = try r.limit(default: 50, max: 500)
        let (cursor, status) = (try r.indexCursor(), try r.statusFilter(AggregateStatus.self))
        let (operations, next) = try await NewestFirstIndex(context.redis, key: RedisKeys.bulkIndex).page(after: cursor, limit: limit) {
            opID -> BulkOperation? in
            guard let o = try? await record(opID), status.map({ o.status == $0 }) ?? true else { return nil }
            return o
        }
        return BulkOperationList(operations: operations, nextCursor: next?.text)
    }

    /// Queued hosts become skipped (`cancelled`, the aggregate `cancelled`); running ones finish. A
    /// finished operation is a 409. With `"reason": "halted"` (the rollout controller halting its
    /// operation) queued hosts are skipped `halted` and the aggregate follows the counts.
    func cancel(_ request: BulkCancel) async throws -> BulkOperation {
        let opID = request.id
        guard !opID.isEmpty else { throw ValidationError("id", .required, "id is required") }
        let reason = (request.reason ?? .cancelled).hostReason
        guard let (_, status) = try await store.progress(operation: opID) else { throw BusReplyError.notFound("no bulk operation '\(opID)'") }
        if status.isTerminal { throw ConflictError(code: "operation_finished", "the operation is already \(status.rawValue)") }
        _ = try await context.redis.send("DEL", RedisKeys.bulkPending(opID))  // nothing more goes out
        let outcome = try await store.skipQueued(operation: opID, reason: reason)
        try await engine.hostsEnded(op: opID, to: .skipped, reason: reason, outcome)
        return try await record(opID)
    }

    /// An agent asks to start hosts: each queued one becomes running and is claimed; any other
    /// (cancelled, halted, running for another agent) is refused, and the agent drops its command
    /// unrun. With `agent_id`, repeating a claim is safe: hosts it already holds are granted again.
    func claim(_ request: ClaimRequest) async throws -> ClaimReply {
        let (op, hosts) = (request.opID, request.hostIDs)
        guard !op.isEmpty else { throw ValidationError("op_id", .required, "op_id is required") }
        guard !hosts.isEmpty else { throw ValidationError("host_ids", .required, "host_ids is a non-empty array") }
        let deadlines = Deadlines(redis: context.redis, clock: context.clock)
        let lease = context.config.agentLease
        if request.renewal == true {
            // A renewal: the hosts still running for this agent start their lease again; the run
            // deadline stays where the first claim put it.
            let held = try await store.heldBy(request.agentID ?? "", operation: op, hosts: hosts)
            try await deadlines.lease(op: op, hosts: held, for: lease)
            return ClaimReply(claimed: held, leaseMs: Int(lease.wholeMilliseconds))
        }
        return try await claims.submit(request)
    }

    /// Sends the commands of the named hosts of an existing operation, those still queued and not
    /// yet sent (an operation created with `"dispatch": false`; the rollout controller sends its
    /// batches this way). Answers which hosts went out.
    func dispatchNamed(_ r: BulkDispatch) async throws -> BulkDispatched {
        let (opID, named) = (r.id, r.hostIDs)
        guard !opID.isEmpty else { throw ValidationError("id", .required, "id is required") }
        guard !named.isEmpty else { throw ValidationError("host_ids", .required, "host_ids is a non-empty array") }
        guard let request = try await engine.requests.request(opID) else { throw BusReplyError.notFound("no bulk operation '\(opID)'") }
        // Only hosts still queued, each marked sent atomically (SADD answers 1 once), so no host
        // goes out twice however many callers name it: two pipelined round trips per batch.
        let current = try await context.redis.send(RedisCommand(["HMGET", RedisKeys.bulkHosts(opID)] + named)).array ?? []
        let queued = zip(named, current).filter { $0.1.string == HostStatus.queued.rawValue }.map(\.0)
        let marks = try await context.redis.pipeline(queued.map { RedisCommand(["SADD", RedisKeys.bulkSent(opID), $0]) })
        let toSend = zip(queued, marks).filter { $0.1.int == 1 }.map(\.0)
        try await engine.dispatch(op: opID, hosts: toSend, request: request)
        return BulkDispatched(dispatched: toSend)
    }

    /// A chunk of an operation's stored parameters, for an agent whose command carries a
    /// `parameters_ref`: at most 1 MiB a reply, so serving a 10 MiB file to thousands of agents
    /// holds a few MiB at a time.
    /// A chunk of the stored parameters. An agent gets them only for a host it speaks for and that
    /// holds the claim (is `running` in that operation): no agent reads another operation's files.
    func parameters(_ r: ParametersChunkRequest, from request: BusRequest) async throws -> ParametersChunk {
        guard (1...ParametersChunkRequest.maxLength).contains(r.length) else {
            throw ValidationError("length", .invalidValue, "length is from 1 to \(ParametersChunkRequest.maxLength)")
        }
        guard r.offset >= 0 else { throw ValidationError("offset", .invalidValue, "offset is 0 or more") }
        if request.sender != .service {
            guard let host = r.hostID else { throw SenderRefused("an agent's bulk.parameters must name its host_id") }
            try request.requireSender(speaksFor: [host])
        }
        let key = RedisKeys.bulkParameters(r.opID)
        let replies = try await context.redis.pipeline([
            RedisCommand(["STRLEN", key]), RedisCommand(["GETRANGE", key, String(r.offset), String(r.offset + r.length - 1)]),
            RedisCommand(["HGET", RedisKeys.bulkHosts(r.opID), r.hostID ?? ""]),
        ])
        if request.sender != .service, replies[2].string != HostStatus.running.rawValue {
            throw SenderRefused("host '\(r.hostID ?? "")' holds no claim in operation '\(r.opID)'")
        }
        let size = replies[0].int ?? 0
        guard size > 0 else { throw BusReplyError.notFound("operation '\(r.opID)' has no stored parameters") }
        let bytes: [UInt8] = if case .bulk(let b) = replies[1] { b } else { [] }
        return ParametersChunk(offset: r.offset, data: Data(bytes).base64EncodedString(), size: Int(size))
    }
}

/// Whether a create wrote its operation's record (after which its key is kept whatever fails next).
private actor RecordWritten {
    private(set) var value = false
    func set() { value = true }
}
