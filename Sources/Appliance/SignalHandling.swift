// SIGINT/SIGTERM → orderly shutdown; SIGHUP → reload (the TLS certificate). The signals are
// blocked before any thread starts (threads inherit the mask) and the main thread collects them
// with sigwait.
import Glibc

enum SignalHandling {
    private static var handledSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        return set
    }

    static func blockTerminationSignals() {
        var set = handledSet
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until SIGINT or SIGTERM arrives; returns its name. Each SIGHUP before it runs `onHangup`.
    static func waitForTermination(onHangup: () -> Void) -> String {
        var set = handledSet
        while true {
            var signal: Int32 = 0
            guard sigwait(&set, &signal) == 0 else { continue }
            switch signal {
            case SIGHUP: onHangup()
            case SIGINT: return "SIGINT"
            default: return "SIGTERM"
            }
        }
    }
}
