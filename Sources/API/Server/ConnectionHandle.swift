// A libmicrohttpd connection as workers see it: only suspend (from the event loop, inside a
// callback) and resume (from any thread, once, for each suspend).
import CMicroHTTPD

struct ConnectionHandle: @unchecked Sendable {
    // @unchecked: MHD allows MHD_resume_connection from any thread; everything else is done on
    // the connection's event-loop thread.
    let pointer: OpaquePointer

    /// Takes the connection out of the event loop until `resume`. Only inside an access handler
    /// or content reader call for this connection.
    func suspend() { MHD_suspend_connection(pointer) }

    /// Puts a suspended connection back; MHD then calls the handler or reader again.
    func resume() { MHD_resume_connection(pointer) }
}
