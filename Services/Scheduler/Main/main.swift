import FleetContracts
import FleetRuntime
import SchedulerService

try await FleetServiceMain.run(.scheduler, assemble: ScheduleHandlers.assemble)
