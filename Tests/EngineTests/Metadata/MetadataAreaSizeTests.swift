import Testing

// The default size of a device's metadata area. Every copy holds the whole catalog, so the
// smallest area bounds how many objects the pool can hold (~400 bytes of database an object,
// new ones refused at 90 % of the database region).
@testable import Engine

@Suite struct MetadataAreaSizeTests {
    /// Objects of ~400 bytes of catalog that an area of `bytes` holds before new ones are refused.
    static func objects(area bytes: Int64) -> Int64 {
        let database = MetadataAreaFormat.regions(areaBytes: bytes).database
        return Int64(database.count) * 9 / 10 / 400
    }

    @Test func anAreaIsAThirtySecondOfItsDeviceInWholeMiB() {
        let mib: Int64 = 1 << 20
        #expect(MetadataAreaFormat.defaultBytes(deviceSize: 128 * mib) == 16 * mib)
        #expect(MetadataAreaFormat.defaultBytes(deviceSize: 8 << 30) == 256 * mib)
        #expect(MetadataAreaFormat.defaultBytes(deviceSize: (8 << 30) + 12345) == 256 * mib)
        #expect(MetadataAreaFormat.defaultBytes(deviceSize: 240 << 30) == 7680 * mib)
        for size: Int64 in [1 << 30, 100 << 30, 3 << 40] {
            #expect(MetadataAreaFormat.defaultBytes(deviceSize: size) % mib == 0)
        }
    }

    /// A 4 GiB bound stopped a pool of any size at ~8.4 million small objects (a 10M-object
    /// `bench_scale` run on 240 GiB devices was refused from 8,453,713 on).
    @Test func largeDevicesHoldTensOfMillionsOfObjects() {
        #expect(Self.objects(area: MetadataAreaFormat.defaultBytes(deviceSize: 240 << 30)) > 10_000_000)
        let largest = MetadataAreaFormat.defaultBytes(deviceSize: 16 << 40)
        #expect(largest == 64 << 30)
        #expect(Self.objects(area: largest) > 150_000_000)
        #expect(MetadataAreaFormat.defaultBytes(deviceSize: 2 << 40) == largest)
    }

    @Test func theWALRegionStopsGrowingAt256MiB() {
        let regions = MetadataAreaFormat.regions(areaBytes: 64 << 30)
        #expect(regions.wal.count == 256 << 20)
        #expect(regions.database.upperBound == 64 << 30)
        #expect(MetadataAreaFormat.regions(areaBytes: 16 << 20).wal.count == 4 << 20)
    }
}
