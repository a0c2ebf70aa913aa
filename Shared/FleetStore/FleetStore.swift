public enum FleetStoreVersion { public static let string = "0.1.0" }
