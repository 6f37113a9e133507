import CSwiftprop
import XCTest

/// The process-wide settings of swiftprop.h: the thread limit and what the
/// build was compiled for.
final class RuntimeTests: XCTestCase {
  var message = [CChar](repeating: 0, count: 256)
  var text: String { String(cString: message) }

  func testThreadLimitIsCheckedAndReported() {
    var limit: Int64 = 0
    var maximum: Int64 = 0
    sp_threads_info(&limit, &maximum, nil, nil)
    let before = limit
    defer { _ = sp_threads_set(before, &message, 256) }
    XCTAssertEqual(maximum, 2)
    for bad: Int64 in [0, -1, .min] {
      XCTAssertEqual(sp_threads_set(bad, &message, 256), Int32(SP_INVALID_ARGUMENT))
      XCTAssertEqual(text, "the thread limit must be >= 1, got \(bad)")
    }
    XCTAssertEqual(sp_threads_set(1, &message, 256), Int32(SP_OK))
    sp_threads_info(&limit, nil, nil, nil)
    XCTAssertEqual(limit, 1)
    XCTAssertEqual(sp_threads_set(.max, &message, 256), Int32(SP_OK))
    sp_threads_info(&limit, nil, nil, nil)
    XCTAssertEqual(limit, .max)
    sp_threads_info(nil, nil, nil, nil)  // every pointer may be NULL
  }

  func testBuildInfoNamesATileHeight() {
    var tileRows: Int32 = 0
    var fused: Int32 = -1
    sp_build_info(&tileRows, &fused)
    XCTAssertTrue([6, 8].contains(tileRows))
    XCTAssertTrue([0, 1].contains(fused))
    sp_build_info(nil, nil)
  }
}
