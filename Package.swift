// swift-tools-version:5.9
import PackageDescription

// Release builds drop Swift's runtime checks inside the kernels: every
// index and size is validated once at the C ABI before the core runs.
let kernelFlags: [SwiftSetting] = [
  .unsafeFlags(
    [
      "-Ounchecked", "-enforce-exclusivity=unchecked", "-cross-module-optimization",
      // Lets squareRoot() compile to the sqrt instruction, and vectorise,
      // instead of a libm call kept for errno.
      "-Xcc", "-fno-math-errno",
    ],
    .when(configuration: .release))
]

let package = Package(
  name: "swiftprop",
  // MARK: - Public products
  products: [
    // The shared library the CPython extension loads (rpath $ORIGIN).
    .library(name: "SwiftpropEngine", type: .dynamic, targets: ["SwiftpropABI"]),
    .library(name: "SwiftpropCore", targets: ["SwiftpropCore"]),
  ],
  // MARK: - Implementation
  targets: [
    .target(name: "CSwiftprop"),
    .target(name: "SwiftpropCore", dependencies: ["CSwiftprop"], swiftSettings: kernelFlags),
    .target(
      name: "SwiftpropABI", dependencies: ["SwiftpropCore", "CSwiftprop"],
      swiftSettings: kernelFlags),
    // MARK: - Tests
    .testTarget(name: "SwiftpropCoreTests", dependencies: ["SwiftpropCore", "CSwiftprop"]),
    .testTarget(name: "SwiftpropABITests", dependencies: ["SwiftpropABI", "CSwiftprop"]),
  ]
)
