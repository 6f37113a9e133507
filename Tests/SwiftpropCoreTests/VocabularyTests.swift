import CSwiftprop
import SwiftpropCore
import XCTest

/// Each list of the engine's vocabulary has exactly the cases the header
/// numbers, with distinct codes below its *_COUNT sentinel and distinct
/// names, and every code finds its case again.
final class VocabularyTests: XCTestCase {
  func check<C: Coded>(_ type: C.Type, count: Int, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(C.allCases.count, count, "\(C.self) cases", file: file, line: line)
    XCTAssertEqual(
      Set(C.allCases.map(\.code)), Set((0..<count).map(Int32.init)), "\(C.self) codes",
      file: file, line: line)
    XCTAssertEqual(Set(C.allCases.map(\.name)).count, count, "\(C.self) names", file: file, line: line)
    for value in C.allCases {
      XCTAssertEqual(C(code: value.code), value, file: file, line: line)
      XCTAssertEqual(C(rawValue: value.name), value, file: file, line: line)
    }
    XCTAssertNil(C(code: Int32(count)), file: file, line: line)
  }

  func testEveryListMatchesTheHeader() {
    check(Status.self, count: SP_STATUS_COUNT)
    check(DType.self, count: SP_DTYPE_COUNT)
    check(Activation.self, count: SP_ACTIVATION_COUNT)
    check(Loss.self, count: SP_LOSS_COUNT)
    check(Initializer.self, count: SP_INITIALIZER_COUNT)
    check(OptimizerKind.self, count: SP_OPTIMIZER_COUNT)
    check(StopReason.self, count: SP_STOP_REASON_COUNT)
    check(ScheduleKind.self, count: SP_SCHEDULE_COUNT)
    check(Monitor.self, count: SP_MONITOR_COUNT)
    check(Vocabulary.self, count: SP_VOCABULARY_COUNT)
    XCTAssertEqual(Float.dtype.code, Int32(SP_FLOAT32))
    XCTAssertEqual(Double.dtype.code, Int32(SP_FLOAT64))
  }

  func testOptimizerSettingsStartWithTheLearningRateAndL2() {
    for kind in OptimizerKind.allCases {
      XCTAssertEqual(Array(kind.settingNames.prefix(2)), ["lr", "l2"])
      XCTAssertEqual(Set(kind.settingNames).count, kind.settingNames.count)
      XCTAssertTrue((0...2).contains(kind.stateVectors))
      XCTAssertNil(OptimizerConfig(kind: kind, ["lr": 0.1]).problem, kind.name)
      XCTAssertNotNil(OptimizerConfig(kind: kind, values: [0.1]).problem)
    }
  }
}
