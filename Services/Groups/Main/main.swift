import FleetContracts
import FleetRuntime
import GroupsService

try await FleetServiceMain.run(.groups) { ServiceAssembly(routes: GroupsHandlers(context: $0).routes) }
