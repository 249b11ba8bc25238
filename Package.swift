// swift-tools-version: 6.0
// MiniGemini for Swift: Mini-Gemini (arXiv 2403.18814) inference on Linux.

import PackageDescription

let package = Package(
    name: "MiniGemini",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "MGTensor", targets: ["MGTensor"]),
        .library(name: "MGVision", targets: ["MGVision"]),
        .library(name: "MGMining", targets: ["MGMining"]),
        .library(name: "MGLanguage", targets: ["MGLanguage"]),
        .library(name: "MGPipeline", targets: ["MGPipeline"]),
        .library(name: "MGHub", targets: ["MGHub"]),
        .executable(name: "mgm", targets: ["mgm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // MGHub only: the Hugging Face Hub client (HTTP) and SHA-256 of downloaded files.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: libopenblas-dev, liblapacke-dev).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        // Small C target for the vectorised non-BLAS loops (built with function multi-versioning).
        .target(name: "CMGKernels"),
        // C shims around libpng/libjpeg: their setjmp/longjmp error handling stays in C.
        .target(name: "CMGImageCodecs", dependencies: ["CPNG", "CJPEG"]),

        .target(
            name: "MGTensor",
            dependencies: ["COpenBLAS", "CMGKernels", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "MGVision", dependencies: ["MGTensor", "CMGKernels", "CMGImageCodecs"]),
        .target(name: "MGMining", dependencies: ["MGTensor"]),
        .target(name: "MGLanguage", dependencies: ["MGTensor"]),
        .target(
            name: "MGPipeline",
            dependencies: ["MGTensor", "MGVision", "MGMining", "MGLanguage", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Resources")]
        ),
        // Hugging Face Hub cache and downloads; the only networking target (the five above have none).
        .target(
            name: "MGHub",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        .executableTarget(
            name: "mgm",
            dependencies: [
                "MGPipeline", "MGScenes", "MGHub", "MGServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/mgm"
        ),
        // `mgm serve`: the OpenAI-compatible HTTP server (Hummingbird), kept out of the core libraries.
        .target(
            name: "MGServer",
            dependencies: ["MGPipeline", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Examples/MGServer"
        ),
        // Procedural scenes of the bundled demo model (same generator as Tools/scenes/scenes.py).
        .target(name: "MGScenes", dependencies: ["MGVision", "MGPipeline"], path: "Examples/MGScenes"),
        .executableTarget(
            name: "MGTensorBenchmarks",
            dependencies: ["MGTensor", "MGVision", "MGLanguage", "COpenBLAS", "CMGKernels"],
            path: "Benchmarks/MGTensorBenchmarks"
        ),

        // Shared by the test targets: golden fixtures, the deterministic input generator, metrics.
        .target(name: "MGTestSupport", dependencies: ["MGTensor"], path: "Tests/MGTestSupport"),
        .testTarget(name: "MGTensorTests", dependencies: ["MGTensor", "MGTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MGVisionTests", dependencies: ["MGVision", "MGTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MGMiningTests", dependencies: ["MGMining", "MGTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MGLanguageTests", dependencies: ["MGLanguage", "MGTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MGScenesTests", dependencies: ["MGScenes", "MGPipeline"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MGServerTests", dependencies: ["MGServer", .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "MGPipelineTests", dependencies: ["MGPipeline", "MGTestSupport", "mgm"], resources: [.copy("Fixtures")]),
        // The Hub client against a loopback Hub server (NIOHTTP1) serving the MGPipelineTests checkpoints.
        .testTarget(
            name: "MGHubTests",
            dependencies: [
                "MGHub", "MGPipeline", "MGLanguage", "MGTensor", "mgm", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer harnesses, one per parser of untrusted input (Fuzz/README.md). A plain build compiles
// each as a replayer of saved inputs; `make fuzz` rebuilds them with the fuzzer and ASan.
let fuzzHarnesses: [(name: String, dependencies: [Target.Dependency])] = [
    ("Safetensors", ["MGTensor"]), ("ShardIndex", ["MGTensor"]), ("TorchCheckpoint", ["MGTensor"]),
    ("Configs", ["MGPipeline"]), ("TokenizerJSON", ["MGLanguage"]), ("SentencePiece", ["MGLanguage"]),
    ("PNG", ["MGFuzzImageDecoding"]), ("JPEG", ["MGFuzzImageDecoding"]), ("Conversation", ["MGPipeline"]), ("ImagePrompt", ["MGPipeline"]),
    ("GGUF", ["MGTensor"]),
]
package.targets.append(.target(name: "MGFuzzSupport", path: "Fuzz/Support"))
package.targets.append(.target(name: "MGFuzzImageDecoding", dependencies: ["MGFuzzSupport", "MGVision"], path: "Fuzz/ImageDecoding"))
package.targets += fuzzHarnesses.map { harness in
    .executableTarget(name: "Fuzz" + harness.name, dependencies: ["MGFuzzSupport"] + harness.dependencies, path: "Fuzz/" + harness.name)
}
