import CSwiftprop

/// The interrupt points of the calls that can run long outside `fit`
/// (predict, loss, gradients, numerical gradients, the forward trace).
///
/// The caller of the C ABI installs a per-thread poll
/// (`sp_set_interrupt_poll`; the CPython shim's checks for Ctrl-C) around
/// such a call; the call makes one `InterruptPoll` and calls `check()`
/// between blocks of its work. Without an installed poll `check()` costs a
/// counter decrement; with one, the poll runs at most every
/// `interval` nanoseconds (the clock is read as sparingly as in `fit`,
/// through `PollClock`). A poll that answers nonzero makes `check()`
/// throw `.callbackError`: the call stops between two blocks, having
/// changed nothing in the network (its outputs are then partly written).
struct InterruptPoll {
  private var clock: PollClock?

  init(interval: UInt64 = 20_000_000) {
    clock = sp_has_interrupt_poll() != 0 ? PollClock(interval: interval) : nil
  }

  /// Throws `EngineError(.callbackError)` when the installed poll asks to
  /// stop; call between blocks of work.
  mutating func check() throws {
    guard clock != nil, clock!.due() else { return }
    if sp_poll_interrupt() != 0 {
      throw EngineError(.callbackError, "interrupted")
    }
  }
}
