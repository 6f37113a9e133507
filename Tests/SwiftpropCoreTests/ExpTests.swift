import XCTest

@testable import SwiftpropCore

#if canImport(Glibc)
  import Glibc
#endif

/// The vectorised exp against the C library's, over the whole range and
/// its edges.
final class ExpTests: XCTestCase {
  func testDoubleAgreesWithTheCLibraryToAFewUlps() {
    var generator = SeededGenerator(seed: 1)
    var inputs = (0..<20_000).map { _ in (generator.uniform() - 0.5) * 1400 }
    inputs += (0..<2_000).map { _ in (generator.uniform() - 0.5) * 1e-6 }
    inputs += [0, 1, -1, 709.7, -708.3, 1e-300, -1e-300, 0.5 * 0.6931471805599453]
    var outputs = [Double](repeating: 0, count: inputs.count)
    inputs.withUnsafeBufferPointer { x in
      outputs.withUnsafeMutableBufferPointer { out in
        Double.exp(x.baseAddress!, sign: 1, shift: 0, into: out.baseAddress!, count: x.count)
      }
    }
    var worst = 0.0
    for (x, y) in zip(inputs, outputs) {
      let expected = Glibc.exp(x)
      if expected < Double.leastNormalMagnitude { continue }
      worst = max(worst, abs(y - expected) / expected)
    }
    XCTAssertLessThan(worst, 4 * Double.ulpOfOne)
  }

  func testFloatAgreesWithTheCLibrary() {
    var generator = SeededGenerator(seed: 2)
    let inputs = (0..<20_000).map { _ in Float((generator.uniform() - 0.5) * 170) }
    var outputs = [Float](repeating: 0, count: inputs.count)
    inputs.withUnsafeBufferPointer { x in
      outputs.withUnsafeMutableBufferPointer { out in
        Float.exp(x.baseAddress!, sign: 1, shift: 0, into: out.baseAddress!, count: x.count)
      }
    }
    var worst: Float = 0
    for (x, y) in zip(inputs, outputs) {
      let expected = expf(x)
      if expected < Float.leastNormalMagnitude { continue }
      worst = max(worst, abs(y - expected) / expected)
    }
    XCTAssertLessThan(worst, 4 * Float.ulpOfOne)
  }

  func testEdges() {
    let inputs: [Double] = [800, .infinity, -800, -.infinity, .nan, 709.78, -745]
    var outputs = [Double](repeating: 1, count: inputs.count)
    inputs.withUnsafeBufferPointer { x in
      outputs.withUnsafeMutableBufferPointer { out in
        Double.exp(x.baseAddress!, sign: 1, shift: 0, into: out.baseAddress!, count: x.count)
      }
    }
    XCTAssertEqual(outputs[0], .infinity)
    XCTAssertEqual(outputs[1], .infinity)
    XCTAssertEqual(outputs[2], 0)
    XCTAssertEqual(outputs[3], 0)
    XCTAssertTrue(outputs[4].isNaN)
    XCTAssertEqual(outputs[5], Glibc.exp(709.78), accuracy: Glibc.exp(709.78) * 1e-15)
    XCTAssertEqual(outputs[6], 0)
  }
}
