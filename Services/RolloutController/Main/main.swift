import FleetContracts
import FleetRuntime
import RolloutControllerService

try await FleetServiceMain.run(.rolloutController, assemble: RolloutHandlers.assemble)
