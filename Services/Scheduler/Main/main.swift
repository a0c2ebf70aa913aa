import FleetContracts
import FleetRuntime
import SchedulerService

try await FleetServiceMain.run(.scheduler, background: { ScheduleHandlers.make($0).background }) { context in
    ScheduleHandlers.make(context).routes
}
