// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "r2plus1d",
    products: [
        .executable(name: "r2plus1d", targets: ["r2plus1d"]),
        .library(name: "R2Plus1D", targets: ["R2Plus1D"]),
        .library(name: "VideoDecode", targets: ["VideoDecode"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libavutil libswscale",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]
        ),
        .target(name: "Cores", dependencies: ["CLinux"]),
        .target(
            name: "VideoDecode",
            dependencies: ["CFFmpeg", "Cores"]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "DecodeSandbox",
            dependencies: ["VideoDecode", "CLinux"]
        ),

        .target(
            name: "HTTPServer",
            dependencies: ["COpenSSL", "CLinux", "CZlib", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "R2Plus1D",
            dependencies: ["CBLAS", "Cores"]
        ),
        .target(
            name: "Service",
            dependencies: ["R2Plus1D", "VideoDecode", "DecodeSandbox", "HTTPServer", "COpenSSL", "Cores", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "r2plus1d",
            dependencies: [
                "R2Plus1D",
                "VideoDecode",
                "DecodeSandbox",
                "HTTPServer",
                "CLinux",
                "Cores",
                "Service",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libFuzzer targets (scripts/fuzz.sh), beside their seeds and dictionaries in fuzz/.
        .target(name: "FuzzSupport", path: "fuzz/Sources/Support"),
        .executableTarget(name: "FuzzHTTPParser", dependencies: ["HTTPServer", "FuzzSupport"], path: "fuzz/Sources/HTTPParser"),
        .executableTarget(name: "FuzzMultipart", dependencies: ["HTTPServer", "FuzzSupport"], path: "fuzz/Sources/Multipart"),
        .executableTarget(name: "FuzzDecode", dependencies: ["VideoDecode", "FuzzSupport"], path: "fuzz/Sources/Decode"),
        .executableTarget(name: "FuzzCheckpoint", dependencies: ["R2Plus1D", "FuzzSupport"], path: "fuzz/Sources/Checkpoint"),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "R2Plus1DTests",
            dependencies: ["R2Plus1D"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "CoresTests", dependencies: ["Cores", "CLinux"]),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: ["HTTPServer", "TestSupport"]
        ),
        .testTarget(
            name: "ServiceTests",
            dependencies: ["Service", "R2Plus1D", "HTTPServer", "TestSupport"]
        ),
        .testTarget(
            name: "EvaluationTests",
            dependencies: ["Service", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "DecodeSandboxTests",
            dependencies: ["DecodeSandbox", "VideoDecode", "TestSupport"]
        ),
        .testTarget(
            name: "VideoDecodeTests",
            dependencies: ["VideoDecode", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
