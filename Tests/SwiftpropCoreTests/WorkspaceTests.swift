import XCTest

@testable import SwiftpropCore

/// The memory policy (`Workspace`): small workspaces are kept and reused,
/// one whose batch part passes `retainedBatchBytes` lives only as long as
/// its call, and inference blocks never need one that large.
final class WorkspaceTests: XCTestCase {
  /// 512 identity units: 12 KiB of z, a and δ per row in Double, so 6000
  /// rows pass the 64 MiB limit.
  func wideNetwork() throws -> Network<Double> {
    try Network<Double>(
      layers: [Dense(1, 512, .identity)], loss: .mse, initializer: .xavier, seed: 0)
  }

  func data(rows: Int) -> (x: [Double], y: [Double]) {
    ((0..<rows).map { Double($0 % 7) / 7 }, [Double](repeating: 0.5, count: rows * 512))
  }

  func testSmallWorkspacesAreKeptAndReused() throws {
    let network = try wideNetwork()
    let (x, y) = data(rows: 32)
    _ = try network.trainStep(x, y, rows: 32, config: .sgd(0.01))
    let kept = try XCTUnwrap(network.trainingSpace)
    for rows in [32, 16, 1] {
      _ = try network.trainStep(
        Array(x.prefix(rows)), Array(y.prefix(rows * 512)), rows: rows, config: .sgd(0.01))
      _ = try network.gradients(Array(x.prefix(rows)), Array(y.prefix(rows * 512)), rows: rows)
      XCTAssertTrue(network.trainingSpace === kept, "\(rows) rows")
    }
    _ = try network.predict(x, rows: 32)
    let inference = try XCTUnwrap(network.inferenceSpace)
    _ = try network.predict(x, rows: 32)
    XCTAssertTrue(network.inferenceSpace === inference)
  }

  func testALargeWorkspaceLivesOnlyAsLongAsItsCall() throws {
    let network = try wideNetwork()
    let small = data(rows: 8)
    _ = try network.trainStep(small.x, small.y, rows: 8, config: .sgd(0.01))
    XCTAssertNotNil(network.trainingSpace)
    let (x, y) = data(rows: 6000)
    let expected = try network.gradients(x, y, rows: 6000)
    XCTAssertNil(network.trainingSpace)
    // The same gradients again, from a fresh workspace.
    XCTAssertEqual(try network.gradients(x, y, rows: 6000), expected)
    XCTAssertNil(network.trainingSpace)
    // A full-batch fit keeps it while it runs, then lets it go.
    var sizes: [Int] = []
    _ = try network.fit(
      x, y, rows: 6000, config: .sgd(0.01), options: FitOptions(epochs: 2, batchSize: 6000, reportEvery: 1)
    ) { event in
      if case .epochEnd = event { sizes.append(network.trainingSpace?.capacity ?? 0) }
      return .proceed
    }
    XCTAssertEqual(sizes, [6000, 6000])
    XCTAssertNil(network.trainingSpace)
    // The next small call makes a small one, and keeps it.
    _ = try network.trainStep(small.x, small.y, rows: 8, config: .sgd(0.01))
    XCTAssertEqual(network.trainingSpace?.capacity, 8)
  }

  func testOnlyShuffledFitsGatherRows() throws {
    let network = try wideNetwork()
    let (x, y) = data(rows: 64)
    _ = try network.fit(
      x, y, rows: 64, config: .sgd(0.01), options: FitOptions(epochs: 1, batchSize: 64))
    XCTAssertEqual(network.trainingSpace?.gathersRows, false)
    XCTAssertEqual(network.trainingSpace?.batchX.count, 0)
    _ = try network.fit(
      x, y, rows: 64, config: .sgd(0.01), options: FitOptions(epochs: 1, batchSize: 16))
    XCTAssertEqual(network.trainingSpace?.gathersRows, true)
    XCTAssertEqual(network.trainingSpace?.batchX.count, 16)
  }

  func testAWideInferenceWorkspaceIsReleasedToo() throws {
    // 9000 outputs: 141 KiB of z and a per row, 141 MiB for 1024 rows.
    let network = try Network<Double>(
      layers: [Dense(1, 9000, .identity)], loss: .mse, initializer: .xavier, seed: 0)
    _ = try network.predict([0.5], rows: 1)
    let kept = try XCTUnwrap(network.inferenceSpace)
    _ = try network.predict([0.25], rows: 1)
    XCTAssertTrue(network.inferenceSpace === kept)
    let x = (0..<1100).map { Double($0) / 1100 }
    let all = try network.predict(x, rows: 1100)
    XCTAssertNil(network.inferenceSpace)
    XCTAssertEqual(try network.predict([x[1099]], rows: 1), Array(all[1099 * 9000..<1100 * 9000]))
  }
}
