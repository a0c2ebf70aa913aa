import BulkDispatcherService
import FleetContracts
import FleetRuntime

try await FleetServiceMain.run(.bulkDispatcher) { context in BulkHandlers(context: context).routes }
