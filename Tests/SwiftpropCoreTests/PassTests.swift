import XCTest

@testable import SwiftpropCore

/// The fused passes for tiny networks (rows as SIMD lanes; plain loop
/// nests) against the general path, on the same network and data.
final class PassTests: XCTestCase {
  /// Every pass's loss, gradients and, when kept, z, a and δ of each layer.
  func run<T: Scalar>(
    _ network: Network<T>, _ x: [T], _ y: [T], rows: Int, kind: PassKind
  ) throws -> (loss: Double, values: [T]) {
    let space = try Workspace<T>(layers: network.layers, capacity: rows, forTraining: true)
    let loss = x.withUnsafeBufferPointer { xs in
      y.withUnsafeBufferPointer { ys in
        network.backward(xs.baseAddress!, ys.baseAddress!, rows: rows, space: space, kind: kind)
      }
    }
    var values = space.gradients.flatMap(\.values)
    for l in network.layers.indices {
      let count = rows * network.layers[l].outputs
      for buffer in [space.z[l], space.a[l], space.delta[l]] {
        values += buffer.values.prefix(count)
      }
    }
    return (loss, values)
  }

  func compare<T: Scalar>(_: T.Type, tolerance: Double) throws {
    var checked = 0
    // Widths 1 to 5 on both sides of a layer: the lane pass unrolls the
    // inner loops over layers up to 4 wide (`unrollingInputs`,
    // `unrollingUnits`) and loops over wider ones.
    let shapes = [[3, 5, 4, 3], [2, 4, 1, 2]]
    for (seed, activation) in hiddenActivations.enumerated() {
      for (output, loss) in outputPairings {
        for rows in [1, 2, 3, 4, 5, 8, 9, 20] {
          for sizes in shapes {
            let layers = [
              Dense(sizes[0], sizes[1], activation), Dense(sizes[1], sizes[2], activation),
              Dense(sizes[2], sizes[3], output),
            ]
            let network = try Network<T>(
              layers: layers, loss: loss, initializer: .xavier, seed: UInt64(seed))
            let (x64, y64) = sampleData(
              rows: rows, inputs: sizes[0], outputs: sizes[3], loss: loss, seed: 7)
            let x = x64.map { T($0) }, y = y64.map { T($0) }
            let general = try run(network, x, y, rows: rows, kind: .general)
            let kinds: [PassKind] = network.isLanePass(rows: rows) ? [.lanes, .small] : [.small]
            XCTAssertEqual(network.passKind(rows: rows), kinds[0])
            for kind in kinds {
              let fused = try run(network, x, y, rows: rows, kind: kind)
              let context =
                "\(kind) \(sizes) \(activation.name)/\(output.name)/\(loss.name), \(rows) rows"
              XCTAssertEqual(
                fused.loss, general.loss, accuracy: tolerance * abs(general.loss), context)
              XCTAssertEqual(fused.values.count, general.values.count)
              let scale = general.values.reduce(0) { max($0, abs(Double($1))) }
              let worst = zip(fused.values, general.values).reduce(0) {
                max($0, abs(Double($1.0) - Double($1.1)))
              }
              XCTAssertLessThanOrEqual(worst, tolerance * scale, context)
              checked += 1
            }
          }
        }
      }
    }
    // Rows 1 to 8 run both fused passes (up to 4 rows on 4-lane vectors,
    // then on 8-lane ones), 9 and 20 the small one.
    XCTAssertEqual(checked, hiddenActivations.count * outputPairings.count * 14 * shapes.count)
  }

  func testFusedPassesMatchTheGeneralPathInFloat64() throws {
    try compare(Double.self, tolerance: 1e-14)
  }

  func testFusedPassesMatchTheGeneralPathInFloat32() throws {
    try compare(Float.self, tolerance: 1e-6)
  }

  func testTheXorNetworkIsBitForBitTheGeneralPath() throws {
    // 2-2-1 sigmoid on 4 rows: every product there is a plain loop, so the
    // fused passes, which sum in the same order, give the same bits.
    let network = try Network<Double>(
      layers: [Dense(2, 2, .sigmoid), Dense(2, 1, .sigmoid)], loss: .mse, initializer: .xavier,
      seed: 3)
    let x: [Double] = [0, 0, 0, 1, 1, 0, 1, 1], y: [Double] = [0, 1, 1, 0]
    let general = try run(network, x, y, rows: 4, kind: .general)
    for kind in [PassKind.lanes, .small] {
      let fused = try run(network, x, y, rows: 4, kind: kind)
      XCTAssertEqual(fused.loss, general.loss, "\(kind)")
      XCTAssertEqual(fused.values, general.values, "\(kind)")
    }
  }

  func testStaleLanesFromALargerBatchDoNotLeak() throws {
    // A pass on 8 rows holding NaN, then one on 2 rows in the same
    // workspace: lanes 2..<8 still hold the NaN rows and must not count.
    let network = try Network<Double>(
      layers: [Dense(2, 3, .identity), Dense(3, 2, .softmax)], loss: .crossEntropy,
      initializer: .he, seed: 1)
    let space = try Workspace<Double>(layers: network.layers, capacity: 8, forTraining: true)
    let poisoned = [Double](repeating: .nan, count: 16)
    let labels = [Double](repeating: 0.5, count: 16)
    let first = network.backward(poisoned, labels, rows: 8, space: space, kind: .lanes)
    XCTAssertTrue(first.isNaN)
    let x: [Double] = [0.5, -1, 2, 0.25], y: [Double] = [1, 0, 0, 1]
    let second = network.backward(x, y, rows: 2, space: space, kind: .lanes)
    let lanes = space.gradients.flatMap(\.values)
    let general = try run(network, x, y, rows: 2, kind: .general)
    XCTAssertEqual(second, general.loss, accuracy: 1e-15)
    XCTAssertTrue(lanes.allSatisfy(\.isFinite))
    for (a, b) in zip(lanes, general.values) { XCTAssertEqual(a, b, accuracy: 1e-15) }
  }
}
