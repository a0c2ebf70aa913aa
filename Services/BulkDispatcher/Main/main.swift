import BulkDispatcherService
import FleetContracts
import FleetRuntime

try await FleetServiceMain.run(.bulkDispatcher, assemble: BulkHandlers.assemble)
