/// The release every executable reports (`--version`, the gateway's module-info, the agent's
/// `agent_version`) and docs/openapi.yaml's `info.version` states (`APIGrammarTests` compares).
public enum FleetVersion {
    public static let current = "0.5.0"
}
