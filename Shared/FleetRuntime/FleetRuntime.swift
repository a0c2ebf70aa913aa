public enum FleetRuntimeVersion { public static let string = "0.1.0" }
