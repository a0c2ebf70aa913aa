/// Placeholder so the target builds until the domain lands (issue 3).
public enum FleetCoreVersion { public static let string = "0.1.0" }
