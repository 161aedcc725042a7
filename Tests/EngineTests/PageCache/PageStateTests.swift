import Testing

// The per-sector state machine: reserve-before-copy, dirty, written, invalidate.
@testable import Engine

@Suite struct PageStateTests {
    @Test func holesNeedAFullReservationAllocatedSectorsNone() {
        var page = PageState()
        page.load(allocated: [2, 2, 2, 2, 0, 0, 0, 0])
        #expect(page.reservationNeeded(0..<8, want: 2) == 8)
        #expect(page.reservationNeeded(0..<4, want: 2) == 0)
        #expect(page.reservationNeeded(0..<4, want: 3) == 4, "one more copy for each allocated sector")
    }

    @Test func dirtyingMovesTheReservationIntoTheSectors() {
        var page = PageState()
        page.load(allocated: [UInt8](repeating: 0, count: 8))
        #expect(page.markDirty(2..<5, want: 2) == 6)
        #expect(page.reservedReplicas == 6)
        #expect(page.dirtySectorCount == 3)
        #expect(page.reservationNeeded(2..<5, want: 2) == 0, "already reserved: a rewrite reserves nothing")
        #expect(page.markDirty(2..<5, want: 2) == 0)
    }

    @Test func writebackConvertsReservationsToAllocations() {
        var page = PageState()
        page.load(allocated: [UInt8](repeating: 0, count: 8))
        page.markDirty(0..<8, want: 2)
        let mask = page.beginWriteback()
        #expect(page.writebackInFlight == 1)
        #expect(page.markWritten(mask, replicas: 2, stillDirty: false) == 16)
        #expect(!page.isDirty)
        #expect(page.reservedReplicas == 0)
        #expect(page.sectors.allSatisfy { $0.state == .allocated && $0.replicasAllocated == 2 })
        #expect(page.reservationNeeded(0..<8, want: 2) == 0, "overwriting allocated data reserves nothing")
    }

    @Test func failedWritebackKeepsDataDirtyAndReserved() {
        var page = PageState()
        page.load(allocated: [UInt8](repeating: 0, count: 8))
        page.markDirty(0..<1, want: 1)
        _ = page.beginWriteback()
        page.writebackFailed()
        #expect(page.isDirty)
        #expect(page.reservedReplicas == 1)
        #expect(page.writebackInFlight == 0)
    }

    @Test func invalidateGivesBackEverythingReserved() {
        var page = PageState()
        page.load(allocated: [1, 1, 0, 0, 0, 0, 0, 0])
        page.markDirty(0..<8, want: 1)
        #expect(page.invalidate() == 6)
        #expect(!page.known)
        #expect(page.reservedReplicas == 0)
    }
}
