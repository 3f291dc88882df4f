// swift-tools-version:6.0
import PackageDescription

// No package dependencies: the toolchain's Foundation plus four Debian C libraries.
let package = Package(
    name: "ledger",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ledger", targets: ["ledger"]),
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // The pure core: no I/O, no C imports.
        .target(name: "LedgerDomain"),

        // Thin shells.
        .target(name: "LedgerLog"),
        .target(name: "LedgerCrypto", dependencies: ["CCrypto", "LedgerDomain"]),
        .target(name: "LedgerStorage", dependencies: ["CLibPQ", "LedgerDomain", "LedgerCrypto", "LedgerLog"]),
        .target(name: "LedgerHTTP", dependencies: ["CMicroHTTPD", "LedgerDomain", "LedgerLog"]),
        // The one command path: no HTTP in it.
        .target(name: "LedgerEngine", dependencies: ["LedgerDomain", "LedgerStorage", "LedgerCrypto", "LedgerLog"]),
        .target(name: "LedgerWebhooks", dependencies: ["CCurl", "LedgerDomain", "LedgerStorage", "LedgerCrypto", "LedgerLog"]),
        .target(name: "LedgerAPI", dependencies: ["LedgerDomain", "LedgerStorage", "LedgerEngine", "LedgerHTTP", "LedgerCrypto", "LedgerLog", "LedgerWebhooks"]),
        .target(name: "LedgerCLI", dependencies: ["LedgerDomain", "LedgerStorage", "LedgerEngine", "LedgerHTTP", "LedgerAPI", "LedgerCrypto", "LedgerLog", "LedgerWebhooks"]),
        .executableTarget(name: "ledger", dependencies: ["LedgerCLI"]),

        .target(name: "LedgerTestSupport", dependencies: ["LedgerStorage", "LedgerAPI", "LedgerHTTP", "LedgerWebhooks"], path: "Tests/LedgerTestSupport"),
        .testTarget(name: "LedgerDomainTests", dependencies: ["LedgerDomain"]),
        .testTarget(name: "LedgerStorageTests", dependencies: ["LedgerStorage", "LedgerCrypto", "LedgerTestSupport"]),
        .testTarget(name: "LedgerEngineTests", dependencies: ["LedgerEngine", "LedgerCrypto", "LedgerStorage", "LedgerTestSupport"]),
        .testTarget(name: "LedgerAPITests", dependencies: ["LedgerAPI", "LedgerEngine", "LedgerHTTP", "LedgerCLI", "LedgerTestSupport", "LedgerWebhooks"]),
    ],
    swiftLanguageModes: [.v6]
)
