// swift-tools-version:6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "appliance",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "appliance", targets: ["Appliance"])
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", exact: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
    ],
    targets: [
        // Thin C shims: re-export what Swift cannot call directly (variadics, static inlines, macros).
        .target(name: "CURing", linkerSettings: [.linkedLibrary("uring")]),
        .target(name: "CMicroHTTPD", linkerSettings: [.linkedLibrary("microhttpd"), .linkedLibrary("gnutls")]),
        .target(name: "CCRC32C"),
        .target(name: "CMalloc"),
        .target(name: "CSQLiteVFS", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(
            name: "Catalog",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")],
            // Debug builds carry the tests' way to damage a row (TEST_HOOKS, as in Engine).
            swiftSettings: upcoming + [.define("TEST_HOOKS", .when(configuration: .debug))]
        ),
        .target(
            name: "Engine",
            dependencies: ["Catalog", "CURing", "CCRC32C", "CSQLiteVFS", .product(name: "Logging", package: "swift-log")],
            // Debug builds (the tests') carry the test hooks: syscall faults, the IO observer the
            // power-cut model plugs into, planted bugs. A release binary has none of them.
            swiftSettings: upcoming + [.define("TEST_HOOKS", .when(configuration: .debug))]
        ),
        // What only tests link: the power-cut model (an IO observer of the Engine's syscall seam).
        .target(name: "EngineTestSupport", dependencies: ["Engine", "CSQLiteVFS"], swiftSettings: upcoming),
        // The fleet: etcd (through its JSON gateway), membership, pool leases, the volume directory,
        // and the HTTP client that forwards requests to a volume's owner.
        .target(
            name: "Fleet",
            dependencies: [
                "Engine", "CCurl", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ], swiftSettings: upcoming),
        .target(
            name: "API",
            dependencies: [
                "Engine", "Catalog", "Fleet", "CMicroHTTPD", "CMalloc", "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "Appliance",
            dependencies: [
                "API", "Engine", "Fleet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: upcoming
        ),
        // The request-parser fuzzer: the harness (a library, so a test can replay the corpus) and
        // its libFuzzer entry point (`make fuzz`; a corpus replayer in a plain build).
        .target(
            name: "ParserFuzzing",
            dependencies: [
                "API", "Engine", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(name: "FuzzParsers", dependencies: ["ParserFuzzing", "CLibFuzzer"], swiftSettings: upcoming),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog"], swiftSettings: upcoming),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Catalog", "EngineTestSupport"], swiftSettings: upcoming),
        // What only the fleet's tests link: real etcd members on loopback.
        .target(name: "EtcdTestSupport", dependencies: ["Fleet"], swiftSettings: upcoming),
        .testTarget(name: "FleetTests", dependencies: ["Fleet", "Engine", "EtcdTestSupport"], swiftSettings: upcoming),
        .testTarget(name: "APITests", dependencies: ["API", "Engine", "ParserFuzzing"], swiftSettings: upcoming),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Appliance", "Engine", "Catalog", "EtcdTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: upcoming),
    ],
    swiftLanguageModes: [.v6]
)
