// swift-tools-version: 6.0
// A package outside MiniGemini that uses it as a dependency, as an application would.
// `swift run PhotoQA` asks the bundled scene model about the bundled image through MiniGemini;
// `swift run ComposeLayers` builds the same pipeline by hand from the lower-layer targets.

import PackageDescription

let package = Package(
    name: "PhotoQA",
    platforms: [.macOS(.v14)],
    dependencies: [
        // The MiniGemini repository two folders up. An application outside the repository would
        // write `.package(url: "https://github.com/<owner>/MiniGemini", from: "<version>")`.
        .package(name: "MiniGemini", path: "../.."),
    ],
    targets: [
        // Finds the bundled model and image, parses the command line, checks answers.
        .target(
            name: "ExampleSupport",
            dependencies: [.product(name: "MGPipeline", package: "MiniGemini")]
        ),
        // MiniGemini end to end: load, encode an image once, ask several questions, stream answers.
        .executableTarget(
            name: "PhotoQA",
            dependencies: [
                "ExampleSupport",
                .product(name: "MGPipeline", package: "MiniGemini"),
                .product(name: "MGLanguage", package: "MiniGemini"),
                .product(name: "MGVision", package: "MiniGemini"),
            ]
        ),
        // The layers composed through their protocols, without the MiniGemini type.
        .executableTarget(
            name: "ComposeLayers",
            dependencies: [
                "ExampleSupport",
                .product(name: "MGTensor", package: "MiniGemini"),
                .product(name: "MGVision", package: "MiniGemini"),
                .product(name: "MGMining", package: "MiniGemini"),
                .product(name: "MGLanguage", package: "MiniGemini"),
                .product(name: "MGPipeline", package: "MiniGemini"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
