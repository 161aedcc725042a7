// Carries a streamed response body (read from disk) from a worker to the event loop. The worker
// reads ahead into a few buffers; MHD's content reader copies from them. When none is ready the
// reader suspends the connection and the worker resumes it with the next buffer. A pushed body
// (a forwarded answer) is put into the same buffers by its own thread (`push`), no worker between.
import CMicroHTTPD
import Foundation

final class DownloadPump: ResponseBodySink, @unchecked Sendable {
    // @unchecked: every field below `condition` is touched only with it locked; the stream only
    // by the worker.
    private let stream: any ResponseBodyStream
    /// Its producer pushes (`push`, `end`); no worker reads it.
    private let pushedBody: Bool
    let length: Int64
    private let chunkSize: Int
    private let maxChunks: Int
    private let condition = NSCondition()
    private var ready: [(buffer: UnsafeMutableRawBufferPointer, count: Int)] = []
    /// How far into `ready.first` the reader is, and the body offset it has reached.
    private var readOffset = 0
    private var sent: Int64 = 0
    private var spare: [UnsafeMutableRawBufferPointer] = []
    private var allocated = 0
    private var failed = false
    /// The bytes a pushed body put in so far.
    private var pushed: Int64 = 0
    /// MHD is done with the response (sent, or the client left).
    private var cancelled = false
    private var waiting: ConnectionHandle?

    init(stream: any ResponseBodyStream, chunkSize: Int = 1 << 20, maxChunks: Int = 2) {
        self.stream = stream
        pushedBody = stream is any PushedResponseBody
        length = stream.length
        self.chunkSize = Int(min(Int64(chunkSize), max(stream.length, 1)))
        self.maxChunks = maxChunks
    }

    deinit {
        for chunk in ready { chunk.buffer.deallocate() }
        for buffer in spare { buffer.deallocate() }
    }

    /// Worker: reads the body ahead of the reader until all is read, it fails, or MHD is done.
    /// Closes the stream.
    func produce() {
        defer { stream.close() }
        var produced: Int64 = 0
        while produced < length {
            condition.lock()
            while spare.isEmpty && allocated == maxChunks && !cancelled { condition.wait() }
            if cancelled {
                condition.unlock()
                return
            }
            let buffer: UnsafeMutableRawBufferPointer
            if let reused = spare.popLast() {
                buffer = reused
            } else {
                allocated += 1
                buffer = .allocate(byteCount: chunkSize, alignment: 4096)
            }
            condition.unlock()
            let want = Int(min(Int64(buffer.count), length - produced))
            var count = 0
            do {
                while count < want {
                    let n = try stream.read(at: produced + Int64(count), into: UnsafeMutableRawBufferPointer(rebasing: buffer[count..<want]))
                    if n <= 0 { break }
                    count += n
                }
            } catch {}
            condition.lock()
            if count < want { failed = true }
            if count > 0 { ready.append((buffer, count)) } else { spare.append(buffer) }
            produced += Int64(count)
            let resume = waiting.take()
            let stop = failed
            condition.unlock()
            resume?.resume()
            if stop { return }
        }
    }

    /// The producing thread of a pushed body: copies `bytes` into the buffers (the last ready one
    /// first, while it has room), waiting for one when all are in use; false once MHD is done.
    func push(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var rest = bytes[...]
        while !rest.isEmpty {
            condition.lock()
            if cancelled {
                condition.unlock()
                return false
            }
            if ready.last.map({ $0.count == $0.buffer.count }) ?? true {
                guard let buffer = spare.popLast() ?? (allocated < maxChunks ? allocate() : nil) else {
                    condition.wait()
                    condition.unlock()
                    continue
                }
                ready.append((buffer, 0))
            }
            let last = ready.count - 1
            let n = min(rest.count, ready[last].buffer.count - ready[last].count)
            UnsafeMutableRawBufferPointer(rebasing: ready[last].buffer[ready[last].count..<ready[last].count + n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(n)))
            ready[last].count += n
            pushed += Int64(n)
            rest = rest.dropFirst(n)
            let resume = waiting.take()
            condition.unlock()
            resume?.resume()  // outside the lock: MHD's own lock may be held by a reader waiting for this one
        }
        return true
    }

    /// The producing thread of a pushed body: no more bytes come; fewer than its length is a failure.
    func end() {
        condition.lock()
        if pushed < length { failed = true }
        let resume = waiting.take()
        condition.unlock()
        resume?.resume()
    }

    private func allocate() -> UnsafeMutableRawBufferPointer {
        allocated += 1
        return .allocate(byteCount: chunkSize, alignment: 4096)
    }

    /// Event loop (MHD's content reader): copies what is ready; when nothing is, suspends
    /// `connection` and returns 0 (MHD calls again once resumed).
    func read(at position: Int64, into destination: UnsafeMutableRawBufferPointer, connection: ConnectionHandle) -> Int {
        condition.lock()
        defer { condition.unlock() }
        guard position == sent else { return appliance_mhd_content_end_with_error }
        if position >= length { return appliance_mhd_content_end_of_stream }
        guard let front = ready.first else {
            if failed { return appliance_mhd_content_end_with_error }
            waiting = connection
            connection.suspend()
            return 0
        }
        let n = min(destination.count, front.count - readOffset)
        destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: front.buffer[readOffset..<readOffset + n]))
        readOffset += n
        sent += Int64(n)
        if readOffset == front.count {
            ready.removeFirst()
            spare.append(front.buffer)
            readOffset = 0
            condition.signal()
        }
        return n
    }

    /// MHD freed the response: the worker stops reading.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.signal()
        condition.unlock()
        if pushedBody { stream.close() }  // a worker's `produce` closes the stream it reads
    }

}
