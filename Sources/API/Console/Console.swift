// The console's long-lived parts: its sessions and the activity samples (with the thread that
// takes them). Made by the application, handed to `Routes.makeRouter`, stopped at shutdown.
package import Engine

package final class Console: Sendable {
    let settings: ConsoleSettings
    let sessions: ConsoleSessions
    let activity: ActivityHistory

    package init(engine: Engine, metrics: HTTPMetrics, settings: ConsoleSettings) {
        self.settings = settings
        sessions = ConsoleSessions(idle: .seconds(settings.idleMinutes * 60), secureCookies: settings.tls)
        activity = ActivityHistory(engine: engine, metrics: metrics)
    }

    package func start() { activity.start() }

    package func stop() { activity.stop() }
}
