import FleetContracts
import FleetRuntime
import GroupsService

try await FleetServiceMain.run(.groups) { context in GroupsHandlers(context: context).routes }
