import BulkDispatcherService
import FleetContracts
import FleetRuntime

try await FleetServiceMain.run(.bulkDispatcher, background: { [ResultsConsumer(context: $0), DeadlineSweeper(context: $0)] }) { context in
    BulkHandlers(context: context).routes
}
