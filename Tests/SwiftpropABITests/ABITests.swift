import CSwiftprop
import XCTest

/// Drives the exported C functions through swiftprop.h, as the CPython
/// shim does, with the inputs a careless caller could pass: every one must
/// come back as a status code and a message, never a trap.
final class ABITests: XCTestCase {
  var message = [CChar](repeating: 0, count: 256)
  var text: String { String(cString: message) }

  func makeNetwork(dtype: Int32 = Int32(SP_FLOAT64)) throws -> Int64 {
    var sizes: [Int64] = [2, 3, 1]
    var activations: [Int32] = [Int32(SP_TANH), Int32(SP_SIGMOID)]
    var handle: Int64 = 0
    let status = sp_network_create(
      2, &sizes, &activations, Int32(SP_MSE), dtype, Int32(SP_XAVIER), 7, &handle, &message, 256)
    XCTAssertEqual(status, Int32(SP_OK), text)
    return handle
  }

  func testCreateRejectsBadArguments() {
    var handle: Int64 = 0
    var sizes: [Int64] = [2, 0, 1]
    var activations: [Int32] = [0, 1]
    XCTAssertEqual(
      sp_network_create(2, &sizes, &activations, 0, 1, 0, 0, &handle, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertTrue(text.contains("layer 0"), text)
    sizes = [2, 3, 1]
    XCTAssertEqual(
      sp_network_create(2, nil, &activations, 0, 1, 0, 0, &handle, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(
      sp_network_create(0, &sizes, &activations, 0, 1, 0, 0, &handle, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    activations = [9, 1]
    XCTAssertEqual(
      sp_network_create(2, &sizes, &activations, 0, 1, 0, 0, &handle, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    activations = [0, 1]
    XCTAssertEqual(
      sp_network_create(2, &sizes, &activations, 7, 1, 0, 0, &handle, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(
      sp_network_create(2, &sizes, &activations, 0, 5, 0, 0, &handle, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    sizes = [1 << 30, 1 << 30, 1]
    XCTAssertEqual(
      sp_network_create(2, &sizes, &activations, 0, 1, 0, 0, &handle, &message, 256),
      Int32(SP_OUT_OF_MEMORY), text)
  }

  func testInvalidHandlesAreReported() {
    var description = sp_network_description()
    XCTAssertEqual(sp_network_info(123_456, &description, &message, 256), Int32(SP_INVALID_HANDLE))
    XCTAssertEqual(sp_network_destroy(-1), Int32(SP_INVALID_HANDLE))
    var x: [Double] = [0, 0]
    var out: [Double] = [0]
    XCTAssertEqual(
      sp_network_predict(99_999, &x, 1, 2, &out, 1, &message, 256), Int32(SP_INVALID_HANDLE))
  }

  func testDestroyedHandleIsNotReused() throws {
    let handle = try makeNetwork()
    XCTAssertEqual(sp_network_destroy(handle), Int32(SP_OK))
    XCTAssertEqual(sp_network_destroy(handle), Int32(SP_INVALID_HANDLE))
    let next = try makeNetwork()
    XCTAssertNotEqual(next, handle)
    _ = sp_network_destroy(next)
  }

  func testNullPointersZeroAndMismatchedSizes() throws {
    let handle = try makeNetwork()
    defer { _ = sp_network_destroy(handle) }
    var x: [Double] = [0.5, -0.5, 1, 2]
    var y: [Double] = [1, 0]
    var out: [Double] = [0, 0]
    var loss = 0.0
    XCTAssertEqual(sp_network_predict(handle, nil, 2, 2, &out, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_predict(handle, &x, 2, 2, nil, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_predict(handle, &x, 0, 2, &out, 0, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_predict(handle, &x, -3, 2, &out, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_predict(handle, &x, 2, 3, &out, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertTrue(text.contains("3 columns") && text.contains("expects 2"), text)
    XCTAssertEqual(sp_network_predict(handle, &x, 2, 2, &out, 5, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_loss(handle, &x, nil, 2, 2, 1, nil, &loss, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_loss(handle, &x, &y, 2, 2, 2, nil, &loss, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_loss(handle, &x, &y, 2, 2, 1, nil, nil, &message, 256), Int32(SP_INVALID_ARGUMENT))
    var gradients = [Double](repeating: 0, count: 3)
    XCTAssertEqual(
      sp_network_gradients(handle, &x, &y, 2, 2, 1, nil, &gradients, 3, nil, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    var parameters = [Double](repeating: 0, count: 13)
    XCTAssertEqual(sp_network_set_parameters(handle, &parameters, 12, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_get_parameters(handle, nil, 13, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_predict(handle, &x, 2, 2, &out, 2, nil, 0), Int32(SP_OK))
    XCTAssertEqual(sp_network_predict(handle, &x, 2, 2, &out, 2, &message, 256), Int32(SP_OK))
  }

  func testDropoutRatesAreCheckedByName() throws {
    let handle = try makeNetwork()
    defer { _ = sp_network_destroy(handle) }
    var rates: [Double] = [0.5, 0]
    var read: [Double] = [9, 9]
    XCTAssertEqual(sp_network_set_dropout(handle, nil, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_set_dropout(handle, &rates, 1, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertTrue(text.contains("one rate per layer"), text)
    XCTAssertEqual(sp_network_set_dropout(handle, &rates, -1, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_get_dropout(handle, nil, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_network_get_dropout(handle, &read, 3, &message, 256), Int32(SP_INVALID_ARGUMENT))
    for bad in [[1.0, 0], [-0.5, 0], [Double.nan, 0], [0.5, 0.5]] {
      rates = bad
      XCTAssertEqual(sp_network_set_dropout(handle, &rates, 2, &message, 256), Int32(SP_INVALID_ARGUMENT))
      XCTAssertTrue(text.contains("layer"), text)
    }
    XCTAssertEqual(sp_network_get_dropout(handle, &read, 2, &message, 256), Int32(SP_OK))
    XCTAssertEqual(read, [0, 0])
    rates = [0.5, 0]
    XCTAssertEqual(sp_network_set_dropout(handle, &rates, 2, &message, 256), Int32(SP_OK))
    XCTAssertEqual(sp_network_get_dropout(handle, &read, 2, &message, 256), Int32(SP_OK))
    XCTAssertEqual(read, [0.5, 0])
    XCTAssertEqual(sp_network_set_dropout(-1, &rates, 2, &message, 256), Int32(SP_INVALID_HANDLE))
  }

  func testNonFiniteValuesAreRejected() throws {
    let handle = try makeNetwork()
    defer { _ = sp_network_destroy(handle) }
    var x: [Double] = [.nan, 0]
    var out: [Double] = [0]
    XCTAssertEqual(sp_network_predict(handle, &x, 1, 2, &out, 1, &message, 256), Int32(SP_INVALID_VALUE))
    XCTAssertTrue(text.contains("NaN"), text)
    var parameters = [Double](repeating: .infinity, count: 13)
    XCTAssertEqual(sp_network_set_parameters(handle, &parameters, 13, &message, 256), Int32(SP_INVALID_VALUE))
  }

  func testOptimizerAndFitOptionsAreChecked() throws {
    let handle = try makeNetwork()
    defer { _ = sp_network_destroy(handle) }
    var x: [Double] = [0, 0, 0, 1, 1, 0, 1, 1]
    var y: [Double] = [0, 1, 1, 0]
    var loss = 0.0
    // lr, l2, momentum, nesterov, lr_in_velocity
    let values = UnsafeMutablePointer<Double>.allocate(capacity: 5)
    defer { values.deallocate() }
    values.initialize(from: [-1, 0, 0, 0, 0], count: 5)
    var optimizer = sp_optimizer(kind: Int32(SP_SGD), count: 5, values: values)
    XCTAssertEqual(
      sp_network_train_step(handle, &x, &y, 4, 2, 1, nil, &optimizer, &loss, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertTrue(text.contains("lr must be > 0"), text)
    XCTAssertEqual(
      sp_network_train_step(handle, &x, &y, 4, 2, 1, nil, nil, &loss, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    values[0] = 0.1
    for (count, pointer) in [(4, values), (6, values), (5, nil)] {
      var wrong = sp_optimizer(kind: Int32(SP_SGD), count: Int32(count), values: pointer)
      XCTAssertEqual(
        sp_network_train_step(handle, &x, &y, 4, 2, 1, nil, &wrong, &loss, &message, 256),
        Int32(SP_INVALID_ARGUMENT))
      XCTAssertTrue(
        text.contains("sgd takes 5 settings (lr, l2, momentum, nesterov, lr_in_velocity)"), text)
    }
    // The two flags: 0 or 1 only.
    for (index, name, bad) in [(3, "nesterov", 0.5), (4, "lr_in_velocity", 2.0)] {
      values[index] = bad
      XCTAssertEqual(
        sp_network_train_step(handle, &x, &y, 4, 2, 1, nil, &optimizer, &loss, &message, 256),
        Int32(SP_INVALID_ARGUMENT))
      XCTAssertTrue(text.contains("\(name) must be 0 or 1"), text)
      values[index] = 0
    }
    var unknown = sp_optimizer(kind: Int32(SP_OPTIMIZER_COUNT), count: 5, values: values)
    XCTAssertEqual(
      sp_network_train_step(handle, &x, &y, 4, 2, 1, nil, &unknown, &loss, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    var options = sp_fit_options(
      epochs: 0, batch_size: 4, report_every: 0, patience: 1, poll_interval_ns: 0, tolerance: -1,
      shuffle: 1)
    var history = [Double](repeating: 0, count: 10)
    var result = sp_fit_result()
    XCTAssertEqual(
      sp_network_fit(
        handle, &x, &y, 4, 2, 1, nil, nil, 0, &optimizer, &options, nil, nil, nil, &history, nil, nil, 10,
        &result, &message, 256), Int32(SP_INVALID_ARGUMENT))
    options.epochs = 11
    XCTAssertEqual(
      sp_network_fit(
        handle, &x, &y, 4, 2, 1, nil, nil, 0, &optimizer, &options, nil, nil, nil, &history, nil, nil, 10,
        &result, &message, 256), Int32(SP_INVALID_ARGUMENT))
    options.epochs = 10
    XCTAssertEqual(
      sp_network_fit(
        handle, &x, &y, 4, 2, 1, nil, nil, 0, &optimizer, &options, nil, nil, nil, &history, nil, nil, 10,
        &result, &message, 256), Int32(SP_OK), text)
    XCTAssertEqual(result.epochs, 10)
  }

  func testCallbackAbortLeavesTheNetworkUsable() throws {
    let handle = try makeNetwork(dtype: Int32(SP_FLOAT32))
    defer { _ = sp_network_destroy(handle) }
    var x: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]
    var y: [Float] = [0, 1, 1, 0]
    // lr, l2, beta1, beta2, eps, eps_hat
    let values = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    defer { values.deallocate() }
    values.initialize(from: [0.01, 0, 0.9, 0.999, 1e-8, 0], count: 6)
    var optimizer = sp_optimizer(kind: Int32(SP_ADAM), count: 6, values: values)
    var options = sp_fit_options(
      epochs: 1000, batch_size: 1, report_every: 1, patience: 1, poll_interval_ns: 0,
      tolerance: -1, shuffle: 1)
    var history = [Double](repeating: 0, count: 1000)
    var result = sp_fit_result()
    let abortAtThirdEpoch: sp_fit_callback = { _, kind, epoch, _, _, _ in
      kind == 1 && epoch == 2 ? 2 : 0
    }
    XCTAssertEqual(
      sp_network_fit(
        handle, &x, &y, 4, 2, 1, nil, nil, 0, &optimizer, &options, nil, abortAtThirdEpoch, nil,
        &history, nil, nil, 1000, &result, &message, 256), Int32(SP_CALLBACK_ERROR))
    XCTAssertEqual(result.epochs, 3)
    XCTAssertEqual(result.stop_reason, Int32(SP_INTERRUPTED))
    var out: [Float] = [0, 0, 0, 0]
    XCTAssertEqual(sp_network_predict(handle, &x, 4, 2, &out, 4, &message, 256), Int32(SP_OK))
    XCTAssertTrue(out.allSatisfy { $0.isFinite && $0 > 0 && $0 < 1 })
  }

  func testLBFGSChecksItsArgumentsAndStopsCleanly() throws {
    let handle = try makeNetwork()
    defer { _ = sp_network_destroy(handle) }
    var x: [Double] = [0, 0, 0, 1, 1, 0, 1, 1]
    var y: [Double] = [0, 1, 1, 0]
    var history = [Double](repeating: .nan, count: 10)
    var result = sp_lbfgs_result()
    let good = sp_lbfgs_options(
      max_iter: 10, max_fun: 15000, memory: 10, max_ls: 20, report_every: 0, poll_interval_ns: 0,
      gtol: 0, ftol: 0, l2: 0, scale: 1)
    var options = good
    func fit(_ capacity: Int64 = 10) -> Int32 {
      sp_network_fit_lbfgs(
        handle, &x, &y, 4, 2, 1, nil, &options, nil, nil, &history, capacity, &result, &message, 256)
    }
    let bad: [(WritableKeyPath<sp_lbfgs_options, Int64>, String)] = [
      (\.max_iter, "max_iter"), (\.max_fun, "max_fun"), (\.memory, "memory"),
      (\.max_ls, "max_ls"), (\.poll_interval_ns, "poll_interval_ns"),
    ]
    for (field, name) in bad {
      options = good
      options[keyPath: field] = -1
      XCTAssertEqual(fit(), Int32(SP_INVALID_ARGUMENT), name)
      XCTAssertTrue(text.contains(name), text)
    }
    for (field, value) in [(\sp_lbfgs_options.gtol, -1.0), (\.ftol, .nan), (\.l2, .infinity), (\.scale, 0)] {
      options = good
      options[keyPath: field] = value
      XCTAssertEqual(fit(), Int32(SP_INVALID_ARGUMENT), text)
    }
    options = good
    XCTAssertEqual(fit(9), Int32(SP_INVALID_ARGUMENT))
    XCTAssertTrue(text.contains("loss_history"), text)
    XCTAssertEqual(
      sp_network_fit_lbfgs(handle, &x, &y, 4, 2, 1, nil, nil, nil, nil, &history, 10, &result, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(
      sp_network_fit_lbfgs(handle, &x, &y, 4, 2, 1, nil, &options, nil, nil, nil, 10, &result, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(
      sp_network_fit_lbfgs(handle, &x, &y, 4, 2, 1, nil, &options, nil, nil, &history, 10, nil, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    options.memory = Int64.max
    XCTAssertEqual(fit(), Int32(SP_OUT_OF_MEMORY), text)

    options = good
    XCTAssertEqual(fit(), Int32(SP_OK), text)
    XCTAssertEqual(result.iterations, 10)
    XCTAssertEqual(result.stop_reason, Int32(SP_MAX_ITER))
    XCTAssertEqual(result.loss, history[9])
    XCTAssertGreaterThan(result.evaluations, 10)

    // A callback that aborts at the first poll: SP_CALLBACK_ERROR, and the
    // result still says what happened.
    let abort: sp_fit_callback = { _, kind, _, _, _, _ in kind == 0 ? 2 : 0 }
    XCTAssertEqual(
      sp_network_fit_lbfgs(
        handle, &x, &y, 4, 2, 1, nil, &options, abort, nil, &history, 10, &result, &message, 256),
      Int32(SP_CALLBACK_ERROR))
    XCTAssertEqual(result.stop_reason, Int32(SP_INTERRUPTED))
    XCTAssertEqual(result.iterations, 0)
  }

  func testLongMessagesAreTruncatedSafely() {
    var small = [CChar](repeating: 65, count: 8)
    var handle: Int64 = 0
    var sizes: [Int64] = [2, 3]
    var activations: [Int32] = [42]
    XCTAssertEqual(
      sp_network_create(1, &sizes, &activations, 0, 1, 0, 0, &handle, &small, 8),
      Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(small[7], 0)
    XCTAssertEqual(String(cString: small).count, 7)
  }

  /// Every code of every list in swiftprop.h, up to its *_COUNT sentinel,
  /// has a name on the Swift side, and none past it: a code added to the
  /// header without a Swift case (or the other way) fails here.
  func testEveryCodeOfTheHeaderHasOneName() {
    let lists: [(Int, Int)] = [
      (SP_VOCABULARY_STATUS, SP_STATUS_COUNT), (SP_VOCABULARY_DTYPE, SP_DTYPE_COUNT),
      (SP_VOCABULARY_ACTIVATION, SP_ACTIVATION_COUNT), (SP_VOCABULARY_LOSS, SP_LOSS_COUNT),
      (SP_VOCABULARY_INITIALIZER, SP_INITIALIZER_COUNT),
      (SP_VOCABULARY_OPTIMIZER, SP_OPTIMIZER_COUNT),
      (SP_VOCABULARY_STOP_REASON, SP_STOP_REASON_COUNT),
      (SP_VOCABULARY_SCHEDULE, SP_SCHEDULE_COUNT), (SP_VOCABULARY_MONITOR, SP_MONITOR_COUNT),
    ]
    XCTAssertEqual(lists.count, SP_VOCABULARY_COUNT)
    var name = [CChar](repeating: 0, count: 64)
    for (vocabulary, count) in lists {
      var names = Set<String>()
      for code in 0..<count {
        XCTAssertEqual(sp_name(Int32(vocabulary), Int32(code), &name, 64), Int32(SP_OK))
        names.insert(String(cString: name))
      }
      XCTAssertEqual(names.count, count, "names of vocabulary \(vocabulary) must be distinct")
      for code in [-1, count] {
        XCTAssertEqual(
          sp_name(Int32(vocabulary), Int32(code), &name, 64), Int32(SP_INVALID_ARGUMENT))
      }
    }
    XCTAssertEqual(sp_name(Int32(SP_VOCABULARY_COUNT), 0, &name, 64), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(sp_name(Int32(SP_VOCABULARY_ACTIVATION), Int32(SP_LEAKY_RELU), &name, 64), 0)
    XCTAssertEqual(String(cString: name), "leaky_relu")
  }

  func testOptimizersDescribeTheirSettings() {
    var settings: Int32 = 0
    var vectors: Int32 = 0
    var name = [CChar](repeating: 0, count: 64)
    XCTAssertEqual(sp_optimizer_info(Int32(SP_ADAM), &settings, &vectors, &message, 256), 0)
    XCTAssertEqual([settings, vectors], [6, 2])
    var names: [String] = []
    for index in 0..<settings {
      XCTAssertEqual(sp_optimizer_setting(Int32(SP_ADAM), index, &name, 64), 0)
      names.append(String(cString: name))
    }
    XCTAssertEqual(names, ["lr", "l2", "beta1", "beta2", "eps", "eps_hat"])
    XCTAssertEqual(sp_optimizer_setting(Int32(SP_ADAM), 6, &name, 64), Int32(SP_INVALID_ARGUMENT))
    XCTAssertEqual(
      sp_optimizer_info(Int32(SP_OPTIMIZER_COUNT), &settings, &vectors, &message, 256),
      Int32(SP_INVALID_ARGUMENT))
    var output: Int32 = 0
    var labels: Int32 = 0
    XCTAssertEqual(sp_loss_info(Int32(SP_CROSS_ENTROPY), &output, &labels, &message, 256), 0)
    XCTAssertEqual([output, labels], [Int32(SP_SOFTMAX), 1])
    XCTAssertEqual(sp_loss_info(Int32(SP_MSE), &output, &labels, &message, 256), 0)
    XCTAssertEqual([output, labels], [-1, 0])
  }
}
