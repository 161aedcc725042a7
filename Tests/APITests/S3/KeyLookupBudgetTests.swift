import Testing

// The fleet's budget for looking unknown S3 key ids up in etcd: an id not found waits a second,
// a second holds a bounded number of lookups, and a new second starts afresh.
@testable import API

@Suite struct KeyLookupBudgetTests {
    static let second: Int64 = 1_000_000_000

    @Test func anIdNotFoundIsNotAskedAgainForASecond() {
        var budget = KeyLookupBudget()
        let start = 7 * Self.second
        let admitted1 = budget.admit("AKNOPE", now: start)
        #expect(admitted1)
        budget.missed("AKNOPE", now: start)
        let admitted2 = budget.admit("AKNOPE", now: start + Self.second / 2)
        #expect(!admitted2)
        let admitted3 = budget.admit("AKOTHER", now: start + Self.second / 2)
        #expect(admitted3)
        let admitted4 = budget.admit("AKNOPE", now: start + Self.second)
        #expect(admitted4)
    }

    @Test func aSecondHoldsAtMostItsLookupsWhateverTheIds() {
        var budget = KeyLookupBudget(perSecond: 5)
        let start = 3 * Self.second
        var admitted = 0
        for i in 0..<50 where budget.admit("AK\(i)", now: start + Int64(i) * 1000) { admitted += 1 }
        #expect(admitted == 5)
        let admitted5 = budget.admit("AKNEXT", now: start + Self.second)
        #expect(admitted5)
    }

    @Test func theMissesKeptAreBounded() {
        var budget = KeyLookupBudget(perSecond: Int.max)
        for i in 0..<(KeyLookupBudget.missLimit + 10) { budget.missed("AK\(i)", now: Self.second) }
        // Past the bound the oldest misses were dropped: those ids may be asked again at once.
        let admitted6 = budget.admit("AK0", now: Self.second + 1)
        #expect(admitted6)
        let admitted7 = budget.admit("AK\(KeyLookupBudget.missLimit + 9)", now: Self.second + 1)
        #expect(!admitted7)
    }
}
