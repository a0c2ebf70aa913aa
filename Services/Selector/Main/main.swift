import FleetContracts
import FleetRuntime
import SelectorService

try await FleetServiceMain.run(.selector) { ServiceAssembly(routes: SelectorHandlers(context: $0).routes) }
