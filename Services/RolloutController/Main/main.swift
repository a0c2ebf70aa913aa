import FleetContracts
import FleetRuntime
import RolloutControllerService

try await FleetServiceMain.run(.rolloutController, background: { RolloutHandlers.make($0).background }) { context in
    RolloutHandlers.make(context).routes
}
