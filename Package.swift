// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "mmsim",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "MMCore", targets: ["MMCore"]),
        .library(name: "MMProcFS", targets: ["MMProcFS"]),
        .library(name: "MMScenario", targets: ["MMScenario"]),
        .library(name: "MMTrace", targets: ["MMTrace"]),
        .executable(name: "mmsim", targets: ["mmsim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Host-side C helpers (a cache prefetch hint for the replay loop's page walks).
        .target(name: "CMMHost"),
        // Release builds drop the dynamic exclusivity checks on the hot path (TLB lookup, walk,
        // fault): they were more than half of the cost of a TLB hit. Debug builds and the tests
        // keep them, so an exclusivity violation still traps there.
        .target(name: "MMCore", dependencies: ["CMMHost"], swiftSettings: [
            .swiftLanguageMode(.v5),
            .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
        ]),
        .target(name: "MMProcFS", dependencies: ["MMCore"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "MMScenario", dependencies: ["MMCore", "MMProcFS"],
                resources: [.copy("Examples")], swiftSettings: [.swiftLanguageMode(.v5)]),
        // The web visualizer (`mmsim serve`) and the self-contained HTML reports (`mmsim report`).
        .target(name: "MMServe", dependencies: [
            "MMCore", "MMProcFS", "MMScenario", "MMTrace",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("Resources")], swiftSettings: [
            .swiftLanguageMode(.v5),
            // Snapshots classify every frame after every event: optimised even in debug builds.
            .unsafeFlags(["-O"], .when(configuration: .debug)),
        ]),
        .target(name: "MMTrace", dependencies: ["MMCore"], swiftSettings: [
            .swiftLanguageMode(.v5),
            .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
        ]),
        .executableTarget(name: "mmsim", dependencies: [
            "MMCore", "MMProcFS", "MMScenario", "MMServe", "MMTrace",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "mmsim-bench", dependencies: ["MMCore", "MMTrace"], path: "Benchmarks/mmsim-bench",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "MMCoreTests", dependencies: ["MMCore"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "MMProcFSTests", dependencies: ["MMCore", "MMProcFS"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "MMScenarioTests", dependencies: ["MMCore", "MMProcFS", "MMScenario"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "MMServeTests", dependencies: ["MMCore", "MMScenario", "MMServe", "MMTrace"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "MMTraceTests", dependencies: ["MMCore", "MMTrace"], exclude: ["Fidelity"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "CLITests", dependencies: ["mmsim"], resources: [.copy("Golden")], swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
