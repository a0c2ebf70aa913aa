import FleetCore

extension RerunRequest {
    /// What `bulk.rerun` and `rolling.rerun` answer when the hosts that match cannot make a new
    /// operation: 422 `no_hosts_match` when none does, 422 on `statuses` when more than a
    /// selector may name do. Nil when `count` hosts can be rerun.
    public static func refusal(matching count: Int) -> BusReply? {
        if count == 0 { return .failure(422, "no_hosts_match", "no host of the original ended with the statuses (and reasons) asked for") }
        let limit = SelectorLimits.standard.maxHostIDs
        guard count <= limit else {
            return .validation(
                ValidationError("statuses", .tooLarge, "\(count) hosts match, more than the \(limit) one operation may name; narrow with reasons"))
        }
        return nil
    }

    /// The create a rerun makes: the original's request over exactly `hosts`, sent (a rollout's
    /// operation was created with nothing sent), and under the caller's key with `rerun:` before it.
    public static func create(rerunning original: [String: JSONValue], hosts: [String], messageID: String?) -> (body: JSONValue, messageID: String?) {
        var body = original
        body["selector"] = ["explicit_host_ids": .array(hosts.map { .string($0) })]
        body["dispatch"] = nil
        body["dry_run"] = nil
        return (.object(body), messageID.map { "rerun:" + $0 })
    }
}
