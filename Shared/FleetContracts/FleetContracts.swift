public enum FleetContractsVersion { public static let string = "1" }
