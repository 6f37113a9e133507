import CSwiftprop
import Foundation
import XCTest

@testable import SwiftpropCore

/// The per-thread interrupt poll (`InterruptPoll`, `sp_set_interrupt_poll`):
/// without a poll nothing is called; with one, its answer decides, and a
/// stop surfaces as `.callbackError` from the long calls.
final class InterruptPollTests: XCTestCase {
  /// How many times `countingPoll` ran, and what it answers.
  nonisolated(unsafe) static var calls = 0
  nonisolated(unsafe) static var answer: Int32 = 0

  static let countingPoll: sp_interrupt_poll = { _ in
    InterruptPollTests.calls += 1
    return InterruptPollTests.answer
  }

  override func setUp() {
    Self.calls = 0
    Self.answer = 0
  }

  override func tearDown() { sp_set_interrupt_poll(nil, nil) }

  func testWithoutAPollNothingIsCalled() throws {
    var poll = InterruptPoll(interval: 0)
    for _ in 0..<100 { try poll.check() }
    XCTAssertEqual(Self.calls, 0)
    XCTAssertEqual(sp_poll_interrupt(), 0)
  }

  func testAPollThatAnswersZeroLetsTheWorkGoOn() throws {
    sp_set_interrupt_poll(Self.countingPoll, nil)
    var poll = InterruptPoll(interval: 0)
    for _ in 0..<10 { try poll.check() }
    XCTAssertGreaterThan(Self.calls, 0)
  }

  func testAPollThatAnswersNonzeroStopsWithCallbackError() throws {
    sp_set_interrupt_poll(Self.countingPoll, nil)
    Self.answer = 1
    var poll = InterruptPoll(interval: 0)
    XCTAssertThrowsError(try poll.check()) { error in
      XCTAssertEqual((error as? EngineError)?.code, .callbackError)
    }
  }

  func testThePollIsPerThread() throws {
    sp_set_interrupt_poll(Self.countingPoll, nil)
    final class Answer: @unchecked Sendable { var value: Int32 = -1 }
    let other = Answer()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      other.value = sp_has_interrupt_poll()
      done.signal()
    }
    thread.start()
    done.wait()
    XCTAssertEqual(other.value, 0)
    XCTAssertEqual(sp_has_interrupt_poll(), 1)
  }

  /// A predict long enough to reach a poll stops there with
  /// `.callbackError` and leaves the parameters as they were.
  func testPredictStopsAtAPollAndChangesNothing() throws {
    let network = try Network<Double>(
      layers: [Dense(64, 256, .tanh), Dense(256, 1, .identity)],
      loss: .mse, initializer: .xavier, seed: 1)
    let rows = 1 << 16
    let x = [Double](repeating: 0.5, count: rows * 64)
    var out = [Double](repeating: 0, count: rows)
    let before = network.parameters.map {
      Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count))
    }
    sp_set_interrupt_poll(Self.countingPoll, nil)
    Self.answer = 1
    // Every block polls once 20 ms have passed: repeat until one has.
    var stopped = false
    for _ in 0..<1000 where !stopped {
      do {
        try x.withUnsafeBufferPointer { xs in
          try out.withUnsafeMutableBufferPointer { o in
            try network.predict(xs.baseAddress!, rows: rows, into: o.baseAddress!)
          }
        }
      } catch let error as EngineError {
        XCTAssertEqual(error.code, .callbackError)
        stopped = true
      }
    }
    XCTAssertTrue(stopped)
    let after = network.parameters.map {
      Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count))
    }
    XCTAssertEqual(before, after)
  }
}
