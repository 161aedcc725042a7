import Foundation
import Testing

// ObjectReader.readMany: many reads in flight from one thread return exactly what `read` would,
// whatever the range (aligned, unaligned, across extents, past the end), and a replica whose
// block fails its checksum is counted and read from the other copy.
@testable import Engine

@Suite struct ReadManyTests {
    @Test func pipelinedReadsMatchTheObjectAndFallBackPastBadReplicas() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "rmvol", replicas: 2)
        defer { engine.shutdown() }
        let paths = devices.map(\.path)
        let data = Scratch.randomBytes(ObjectWriter.extentBytes * 2 + 5000)
        try Scratch.upload(engine, "rmvol", "k", data)

        // Block 3 is damaged on the first device, block 5 on the second: whichever copy the
        // pipeline reads first, one of the two fails its checksum there.
        for (path, block) in zip(paths, [3, 5]) {
            let marker = Data(data[block * 4096..<block * 4096 + 64])
            let url = URL(fileURLWithPath: path)
            let contents = try Data(contentsOf: url)
            let at = try #require(contents.range(of: marker)).lowerBound
            let handle = try FileHandle(forWritingTo: url)
            try handle.seek(toOffset: UInt64(at + 7))
            try handle.write(contentsOf: Data([contents[at + 7] ^ 0xFF]))
            try handle.close()
        }

        let size = Int64(data.count)
        let extent = Int64(ObjectWriter.extentBytes)
        var ranges: [(Int64, Int)] = [
            (0, 4096), (3 * 4096, 4096), (5 * 4096, 8192), (4097, 100), (extent - 4096, 8192), (size - 4096, 4096), (size - 904, 4096),
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 { ranges.append((Int64.random(in: 0..<size / 4096, using: &generator) * 4096, 4096)) }
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: ranges.count * 8192, alignment: 4096)
        defer { buffers.deallocate() }
        var results = [Int?](repeating: nil, count: ranges.count)
        let reader = try engine.openObject(volume: "rmvol", key: "k")
        reader.readMany(
            count: ranges.count, depth: 16,
            range: { i in (ranges[i].0, UnsafeMutableRawBufferPointer(rebasing: buffers[i * 8192..<i * 8192 + ranges[i].1])) },
            done: { i, result in
                #expect(results[i] == nil, "read \(i) reported twice")
                results[i] = try? result.get()
            })
        reader.close()
        for (i, (offset, count)) in ranges.enumerated() {
            let expected = Array(data[Int(offset)..<min(data.count, Int(offset) + count)])
            #expect(results[i] == expected.count, "read \(i) at \(offset)")
            #expect(Array(buffers[i * 8192..<i * 8192 + expected.count]) == expected, "read \(i) at \(offset)")
        }
        let checksumErrors = engine.stats.snapshot.devices.values.reduce(0) { $0 + $1.checksumErrors }
        #expect(checksumErrors >= 1)
    }
}
