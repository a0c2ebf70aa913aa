import FleetContracts
import FleetRuntime
import SelectorService

try await FleetServiceMain.run(.selector) { context in SelectorHandlers(context: context).routes }
