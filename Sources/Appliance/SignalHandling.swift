// SIGINT/SIGTERM → orderly shutdown. The signals are blocked before any thread starts (threads
// inherit the mask) and the main thread collects them with sigwait.
import Glibc

enum SignalHandling {
    private static var terminationSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    static func blockTerminationSignals() {
        var set = terminationSet
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until SIGINT or SIGTERM arrives; returns its name.
    static func waitForTermination() -> String {
        var set = terminationSet
        var signal: Int32 = 0
        while sigwait(&set, &signal) != 0 {}
        return signal == SIGINT ? "SIGINT" : "SIGTERM"
    }
}
