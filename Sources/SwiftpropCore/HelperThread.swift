#if canImport(Glibc)
  import Glibc
#endif
import Synchronization

/// The length of each of at most `pieces` pieces that `count` values of T
/// are cut into for `runShared`: a whole number of 64-byte cache lines
/// (the last piece takes the rest), so that two threads never write the
/// same line. Set by `count` alone, so the cut never depends on threads.
@inlinable
func cacheLinePieceLength<T>(count: Int, pieces: Int, of _: T.Type) -> Int {
  let line = 64 / MemoryLayout<T>.stride
  return (count + pieces * line - 1) / (pieces * line) * line
}

/// Runs `body(u)` for every work unit u in 0..<units, shared between the
/// calling thread and the engine's helper thread, and returns when every
/// unit is done.
///
/// The units are claimed one at a time, in order, from a shared counter
/// (under the helper's mutex): each thread takes the next unclaimed unit
/// when it has finished its last, so a thread that another process slows
/// down (a contended core) simply takes fewer units and never holds the
/// other up by more than the unit it is running. Unit u does not start
/// before the first `phaseStart(u)` units have all finished (a phase
/// boundary: packing before the products that read the packing);
/// `phaseStart(u) <= u`, and it never decreases with u.
///
/// The units must write disjoint memory and each compute its values in a
/// fixed order, so that which thread runs which unit never changes a
/// result's bits. Without a helper the calling thread runs every unit in
/// order: when the helper thread cannot be created (a container's process
/// limit, `RLIMIT_NPROC`, or an address-space limit that leaves no room
/// for its stack; creation is tried again at most once a second), while
/// it runs another caller's work, when the thread limit is 1, and when
/// there is one unit. A helper that wakes late finds the units claimed
/// and does nothing.
///
/// This replaces `DispatchQueue.concurrentPerform`, whose thread pool
/// retries a failed thread creation forever: under a process limit a large
/// product never returned.
@usableFromInline
func runShared(units: Int, phaseStart: (Int) -> Int = { _ in 0 }, _ body: (Int) -> Void) {
  HelperThread.shared.run(units: units, phaseStart: phaseStart) { unit, _ in body(unit) }
}

/// `runShared` whose body also hears which thread runs the unit: worker 0
/// is the calling thread, 1 the helper. Two units that run at the same
/// time have different workers, so a unit may use a scratch area of its
/// worker's own.
@usableFromInline
func runSharedByWorker(
  units: Int, phaseStart: (Int) -> Int = { _ in 0 }, _ body: (_ unit: Int, _ worker: Int) -> Void
) {
  HelperThread.shared.run(units: units, phaseStart: phaseStart, body)
}

/// The one helper thread of the process, made on the first shared work
/// and kept (blocked on a condition variable in between, with every
/// signal blocked, so Ctrl-C is always delivered to a Python thread).
public final class HelperThread: @unchecked Sendable {
  public static let shared = HelperThread()

  // Allocated once, so their addresses never move (pthread objects must
  // not be copied).
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let jobPosted = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  /// Broadcast when a unit finishes: a thread waiting at a phase boundary,
  /// or the caller waiting for the helper's last unit, looks again.
  private let progress = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  // All guarded by `mutex`.
  private var started = false
  /// When creating the thread last failed (monotonic ns), or nil.
  private var lastFailure: UInt64?
  /// A caller owns the helper, from posting its work to its return.
  private var claimed = false
  /// The owner's work, until the owner has claimed its last unit.
  private var job: ((Int, Int) -> Void)?
  private var jobPhaseStart: ((Int) -> Int)?
  private var unitCount = 0
  private var nextUnit = 0
  private var finishedUnits = 0
  /// The helper holds a claimed unit (waiting for its phase or running it).
  private var helperBusy = false
  private var forkHandlersInstalled = false

  /// Counts every posted job and finished unit (written under `mutex`,
  /// read without it): a thread about to sleep on a condition watches it
  /// for `spinNanoseconds` first, so the work of a training step (products
  /// a few microseconds apart) is not held up by the wake-up of a thread
  /// asleep in the kernel, tens of microseconds on a virtual machine.
  private let events = Atomic<Int>(0)
  /// How long a thread watches `events` before it sleeps: short enough
  /// that an idle helper soon stops taking a core from other processes.
  private let spinNanoseconds: UInt64 = 100_000

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

  /// Threads work is shared over at most: the calling thread and the
  /// helper.
  public static let maximumThreads = 2

  /// Pieces of work (large products, parameter updates) offered to the
  /// helper, and units the helper actually ran (a late helper runs none),
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
    pthread_cond_init(progress, nil)
  }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body()
  }

  func run(units: Int, phaseStart: (Int) -> Int, _ body: (Int, Int) -> Void) {
    withoutActuallyEscaping(body) { body in
      withoutActuallyEscaping(phaseStart) { phaseStart in
        guard units > 1, post(units: units, phaseStart: phaseStart, body) else {
          for unit in 0..<units { body(unit, 0) }
          return
        }
        while let unit = locked({ claim(byHelper: false) }) {
          body(unit, 0)
          locked { finish() }
        }
        // Every unit is claimed: close the job (a late helper starts
        // nothing) and wait for the helper's last unit.
        locked {
          job = nil
          jobPhaseStart = nil
          wait(on: progress) { helperBusy }
          claimed = false
        }
      }
    }
  }

  /// Hands the work to the helper as well (starting it if needed); false
  /// when there is no helper to share it with.
  private func post(
    units: Int, phaseStart: @escaping (Int) -> Int, _ body: @escaping (Int, Int) -> Void
  ) -> Bool {
    locked {
      guard allowed, limit >= 2, !claimed, startIfNeeded() else { return false }
      splitProducts &+= 1
      claimed = true
      job = body
      jobPhaseStart = phaseStart
      unitCount = units
      nextUnit = 0
      finishedUnits = 0
      helperBusy = false
      events.add(1, ordering: .releasing)
      pthread_cond_signal(jobPosted)
      return true
    }
  }

  /// The next unit of the posted job, once its phase may start; nil when
  /// every unit is claimed. Called with the mutex held (released while it
  /// waits for the other thread to finish the units before the phase).
  private func claim(byHelper: Bool) -> Int? {
    guard let phaseStart = jobPhaseStart, nextUnit < unitCount else { return nil }
    let unit = nextUnit
    nextUnit += 1
    if byHelper { helperBusy = true }
    // Every unit before `unit` has been claimed, and a thread waits here
    // only between units, so the units it waits for are running.
    let required = phaseStart(unit)
    wait(on: progress) { finishedUnits < required }
    return unit
  }

  /// Called with the mutex held when a unit is done.
  private func finish() {
    finishedUnits += 1
    events.add(1, ordering: .releasing)
    pthread_cond_broadcast(progress)
  }

  /// Returns, with the mutex held as on entry, once `blocked()` is false:
  /// for up to `spinNanoseconds` the mutex is released and `events`
  /// watched (looking again at each change), then the thread sleeps on
  /// `condition` (signalled, under the mutex, after every change).
  private func wait(on condition: UnsafeMutablePointer<pthread_cond_t>, while blocked: () -> Bool) {
    guard blocked() else { return }
    let deadline = monotonicNanoseconds() &+ spinNanoseconds
    while blocked() {
      guard monotonicNanoseconds() < deadline else {
        pthread_cond_wait(condition, mutex)
        continue
      }
      let seen = events.load(ordering: .acquiring)
      pthread_mutex_unlock(mutex)
      var polls = 0
      while events.load(ordering: .acquiring) == seen {
        polls &+= 1
        if polls & 63 == 0 && monotonicNanoseconds() >= deadline { break }
      }
      pthread_mutex_lock(mutex)
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

  /// The helper's loop: waits for posted work, runs the units it can
  /// claim, reports each one done.
  private func serve() -> Never {
    pthread_mutex_lock(mutex)
    while true {
      wait(on: jobPosted) { job == nil || nextUnit >= unitCount }
      // Taken before claiming: `claim` may wait for a phase, and the
      // caller may meanwhile run every other unit and close the job (it
      // then waits for this unit, so the closure stays valid).
      var body = job
      guard let unit = claim(byHelper: true) else {
        body = nil
        continue
      }
      pthread_mutex_unlock(mutex)
      body?(unit, 1)
      // Drop the reference before the caller hears of it: its closure
      // must not outlive `withoutActuallyEscaping`.
      body = nil
      pthread_mutex_lock(mutex)
      helperParts &+= 1
      helperBusy = false
      finish()
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
    jobPhaseStart = nil
    unitCount = 0
    nextUnit = 0
    finishedUnits = 0
    helperBusy = false
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(jobPosted, nil)
    pthread_cond_init(progress, nil)
  }
}
