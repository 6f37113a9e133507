#if canImport(Glibc)
  import Glibc
#endif

/// Runs `part(0)` and `part(1)`, the two halves of a large matrix product,
/// side by side: part 1 on the engine's helper thread, part 0 on the
/// calling thread. Returns when both are done.
///
/// When no helper can be had the calling thread runs both parts, one after
/// the other; the parts write disjoint columns and each sums in its own
/// fixed order, so the results are the same to the bit either way. That
/// happens when the helper thread cannot be created (a container's process
/// limit, `RLIMIT_NPROC`, or an address-space limit that leaves no room for
/// its stack; creation is tried again at most once a second), while it
/// runs another caller's product, and when the helper has not picked
/// part 1 up by the time the caller has finished part 0 (on a busy
/// machine the caller then takes it back instead of waiting).
///
/// This replaces `DispatchQueue.concurrentPerform`, whose thread pool
/// retries a failed thread creation forever: under a process limit a large
/// product never returned.
@usableFromInline
func runTwoParts(_ part: (Int) -> Void) {
  HelperThread.shared.run(part)
}

/// The one helper thread of the process, made on the first large product
/// and kept (blocked on a condition variable between products, with every
/// signal blocked, so Ctrl-C is always delivered to a Python thread).
public final class HelperThread: @unchecked Sendable {
  public static let shared = HelperThread()

  // Allocated once, so their addresses never move (pthread objects must
  // not be copied).
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let jobPosted = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private let jobDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  // All guarded by `mutex`.
  private var started = false
  /// When creating the thread last failed (monotonic ns), or nil.
  private var lastFailure: UInt64?
  /// A caller owns the helper, from posting its part 1 to taking it back.
  private var claimed = false
  /// Part 1 of the owner's product, until the helper or the caller takes it.
  private var job: ((Int) -> Void)?
  private var jobFinished = false
  private var forkHandlersInstalled = false

  /// False makes every product run on the calling thread (tests compare
  /// the two ways bit for bit).
  var enabled: Bool {
    get { locked { allowed } }
    set { locked { allowed = newValue } }
  }
  private var allowed = true

  /// The most threads a product may use (`sp_threads_set`; the Python
  /// package sets it from `set_num_threads`, `SWIFTPROP_NUM_THREADS` or the
  /// CPUs the process may use). The engine splits a product over at most
  /// `maximumThreads`, so any limit >= 2 means two; 1 means the calling
  /// thread only. Always >= 1.
  public var threadLimit: Int {
    get { locked { limit } }
    set { locked { limit = Swift.max(1, newValue) } }
  }
  private var limit = HelperThread.maximumThreads

  /// Threads a product is split over at most: the calling thread and the
  /// helper.
  public static let maximumThreads = 2

  /// Products split in two and offered to the helper, and parts the helper
  /// actually ran (the caller takes a part back when the helper is late),
  /// since the process started: what tests observe instead of timings.
  public var counts: (splitProducts: Int, helperParts: Int) {
    locked { (splitProducts, helperParts) }
  }
  private var splitProducts = 0
  private var helperParts = 0

  /// Least time between two attempts to create the thread.
  private let retryInterval: UInt64 = 1_000_000_000
  /// The helper's stack: the kernels keep their work in registers and
  /// buffers, not on the stack; a small one keeps an address-space limit's
  /// room for data.
  private let stackBytes = 1 << 20

  private init() {
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(jobPosted, nil)
    pthread_cond_init(jobDone, nil)
  }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }

  func run(_ part: (Int) -> Void) {
    withoutActuallyEscaping(part) { part in
      guard post(part) else {
        part(0)
        part(1)
        return
      }
      part(0)
      // Take part 1 back if the helper has not started it; else wait.
      let takeBack: Bool = locked {
        if job != nil {
          job = nil
          claimed = false
          return true
        }
        while !jobFinished { pthread_cond_wait(jobDone, mutex) }
        jobFinished = false
        claimed = false
        return false
      }
      if takeBack { part(1) }
    }
  }

  /// Hands part 1 to the helper (starting it if needed); false when there
  /// is no helper to hand it to.
  private func post(_ part: @escaping (Int) -> Void) -> Bool {
    locked {
      guard allowed, limit >= 2, !claimed, startIfNeeded() else { return false }
      splitProducts &+= 1
      claimed = true
      job = part
      pthread_cond_signal(jobPosted)
      return true
    }
  }

  /// Called with the mutex held.
  private func startIfNeeded() -> Bool {
    if started { return true }
    let now = monotonicNanoseconds()
    if let lastFailure, now &- lastFailure < retryInterval { return false }
    installForkHandlers()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, stackBytes)
    // The new thread inherits the signal mask: block every signal in it.
    var all = sigset_t()
    var previous = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_SETMASK, &all, &previous)
    var thread = pthread_t()
    let status = pthread_create(&thread, &attributes, { _ in HelperThread.shared.serve() }, nil)
    pthread_sigmask(SIG_SETMASK, &previous, nil)
    guard status == 0 else {
      lastFailure = now
      return false
    }
    started = true
    lastFailure = nil
    return true
  }

  /// The helper's loop: waits for a part 1, runs it, reports it done.
  private func serve() -> Never {
    pthread_mutex_lock(mutex)
    while true {
      while job == nil { pthread_cond_wait(jobPosted, mutex) }
      var part = job
      job = nil
      pthread_mutex_unlock(mutex)
      part?(1)
      // Drop the reference before the caller hears of it: its closure
      // must not outlive `withoutActuallyEscaping`.
      part = nil
      pthread_mutex_lock(mutex)
      helperParts &+= 1
      jobFinished = true
      pthread_cond_signal(jobDone)
    }
  }

  /// A forked child has no helper thread (only the forking thread is
  /// copied): it starts afresh, with the lock free and no product owned.
  /// The lock is held across the fork, so the child's copy of the state is
  /// consistent.
  private func installForkHandlers() {
    guard !forkHandlersInstalled else { return }
    forkHandlersInstalled = true
    pthread_atfork(
      { pthread_mutex_lock(HelperThread.shared.mutex) },
      { pthread_mutex_unlock(HelperThread.shared.mutex) },
      { HelperThread.shared.resetInChild() })
  }

  private func resetInChild() {
    started = false
    lastFailure = nil
    claimed = false
    job = nil
    jobFinished = false
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(jobPosted, nil)
    pthread_cond_init(jobDone, nil)
  }
}
