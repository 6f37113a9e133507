"""Threads: fits of different networks run in parallel (the GIL is released
while Swift computes); calls on one network from several threads are
serialised by its lock and never corrupt it; concurrent predictions equal
single-threaded ones; the engine's handle table survives networks being
created and destroyed from many threads at once."""

import threading
import time

import numpy as np
import pytest

import swiftprop as sp

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (512, 32))
Y = np.sin(X.sum(axis=1, keepdims=True))


def big_network(seed=0):
    return sp.Network([32, 64, 64, 1], activation="tanh", seed=seed)


def epochs_for(seconds):
    """Epochs of ``big_network`` (batch 32) that take about ``seconds``."""
    net = big_network()
    net.fit(X, Y, epochs=5, batch_size=32)  # warm-up
    start = time.perf_counter()
    net.fit(X, Y, epochs=20, batch_size=32)
    per_epoch = (time.perf_counter() - start) / 20
    return max(20, int(seconds / per_epoch))


def run_in_threads(*targets):
    """Start one thread per target together; re-raise the first error."""
    errors = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        def run():
            try:
                barrier.wait()
                target()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def same_weights(a, b):
    for (W1, b1), (W2, b2) in zip(a, b):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)


def all_finite(net):
    return all(np.isfinite(W).all() and np.isfinite(b).all()
               for W, b in net.weights)


# ---------------------------------------------------------------- parallel

def test_a_second_network_trains_while_a_fit_runs():
    """While one thread is inside ``fit``, another thread runs Python code
    and trains a second network to the end: networks do not share a lock
    and the engine does not keep the GIL. The first fit's callback stops it
    at the first epoch end after the second thread is done, so no clock
    decides the outcome. Threads change nothing in the numbers.

    How much faster two fits run on two cores than one after the other is
    a benchmark (``benchmarks/threads.py``), not a test: on a shared
    machine the ratio moves with the load.
    """
    a, b = big_network(1), big_network(2)
    started, finished = threading.Event(), threading.Event()
    done = []

    def second():
        try:
            started.wait(timeout=60)
            done.append(b.fit(X, Y, epochs=3, batch_size=32).epochs)
        finally:
            finished.set()

    def go_on(epoch, loss):
        started.set()
        return not finished.is_set()

    thread = threading.Thread(target=second)
    thread.start()
    try:
        history = a.fit(X, Y, epochs=10**6, batch_size=32, callback=go_on)
    finally:
        finished.set()
        thread.join(timeout=120)
    assert not thread.is_alive(), "the second thread hung"
    assert done == [3]
    assert 1 <= history.epochs < 10**6
    assert history.stop_reason == "callback", history.stop_reason
    twin_a, twin_b = big_network(1), big_network(2)
    twin_a.fit(X, Y, epochs=history.epochs, batch_size=32)
    twin_b.fit(X, Y, epochs=3, batch_size=32)
    same_weights(a.weights, twin_a.weights)
    same_weights(b.weights, twin_b.weights)


# -------------------------------------------------- one network, two threads

def test_predict_during_fit_sees_before_or_after_never_between():
    """fit holds the network's lock from start to end: a predict from
    another thread waits, and sees the weights of before or of after the
    fit, never a half-trained state."""
    net = big_network()
    twin = big_network()
    epochs = epochs_for(0.5)
    Xp = X[:16]
    before = net.predict(Xp)
    seen = []
    fit_started = threading.Event()
    fit_done = threading.Event()

    def fitter():
        fit_started.set()
        net.fit(X, Y, epochs=epochs, batch_size=32)
        fit_done.set()

    def reader():
        fit_started.wait()
        while not fit_done.is_set():
            seen.append(net.predict(Xp))
            net.gradients(Xp, Y[:16])
            net.loss(Xp, Y[:16])
        seen.append(net.predict(Xp))

    run_in_threads(fitter, reader)
    twin.fit(X, Y, epochs=epochs, batch_size=32)
    same_weights(net.weights, twin.weights)
    after = twin.predict(Xp)
    assert not np.array_equal(before, after)
    for output in seen:
        assert np.array_equal(output, before) or np.array_equal(output, after)
    np.testing.assert_array_equal(seen[-1], after)
    assert all_finite(net)


@pytest.mark.parametrize("optimizer", [
    dict(optimizer="sgd", lr=0.05, momentum=0.9),
    dict(optimizer="adam", lr=0.01),
])
def test_two_threads_training_one_network_equal_one_thread(optimizer):
    """Steps on the same full batch without shuffling are all alike, so
    however two threads interleave their fits and train_steps the result
    is that of the same number of steps in one thread, bit for bit; the
    other thread's reads in between change nothing."""
    Xs, Ys = X[:64], Y[:64]
    shared, alone = big_network(), big_network()
    rounds = 30

    def fits():
        for _ in range(rounds):
            shared.fit(Xs, Ys, epochs=2, shuffle=False, **optimizer)

    def steps():
        for _ in range(rounds):
            shared.train_step(Xs, Ys, **optimizer)
            shared.gradients(Xs, Ys)
            shared.predict(Xs)
            shared.get_optimizer_state()

    run_in_threads(fits, steps)
    for _ in range(rounds * 3):
        alone.train_step(Xs, Ys, **optimizer)
    same_weights(shared.weights, alone.weights)
    state, expected = shared.get_optimizer_state(), alone.get_optimizer_state()
    assert state["step"] == expected["step"]
    np.testing.assert_array_equal(state["first"], expected["first"])
    assert all_finite(shared)


def test_fit_from_another_thread_waits_instead_of_failing():
    """A second fit from another thread waits for the lock (it is not the
    engine's 'fit is running' error, which is for re-entry from a
    callback)."""
    net = big_network()
    epochs = epochs_for(0.3)
    histories = []
    run_in_threads(
        lambda: histories.append(net.fit(X, Y, epochs=epochs,
                                         batch_size=32)),
        lambda: histories.append(net.fit(X, Y, epochs=epochs,
                                         batch_size=32)))
    assert [h.epochs for h in histories] == [epochs, epochs]
    twin = big_network()
    twin.fit(X, Y, epochs=epochs, batch_size=32)
    twin.fit(X, Y, epochs=epochs, batch_size=32)
    same_weights(net.weights, twin.weights)


# ------------------------------------------------------------ many readers

def test_predict_from_eight_threads_equals_single_threaded():
    net = big_network()
    net.fit(X, Y, epochs=30, batch_size=32, optimizer="adam", lr=0.01)
    inputs = [RNG.uniform(-2, 2, (200 + 37 * i, 32)) for i in range(8)]
    expected = [net.predict(x) for x in inputs]
    results = [[] for _ in inputs]

    def reader(i):
        def run():
            for _ in range(40):
                results[i].append(net.predict(inputs[i]))
        return run

    run_in_threads(*[reader(i) for i in range(8)])
    for i, outputs in enumerate(results):
        assert len(outputs) == 40
        for output in outputs:
            np.testing.assert_array_equal(output, expected[i])


def test_eight_threads_each_training_its_own_network():
    epochs = max(5, epochs_for(0.1))
    nets = [big_network(seed) for seed in range(8)]
    run_in_threads(*[lambda n=n: n.fit(X, Y, epochs=epochs, batch_size=64)
                     for n in nets])
    for seed, net in enumerate(nets):
        twin = big_network(seed)
        twin.fit(X, Y, epochs=epochs, batch_size=64)
        same_weights(net.weights, twin.weights)


def test_creating_and_destroying_networks_from_many_threads():
    """The engine's table of handles under concurrent create/destroy,
    while other threads use long-lived networks."""
    keep = big_network()
    expected = keep.predict(X[:32])
    small_X = np.ones((3, 4))

    def churn(seed):
        def run():
            for i in range(300):
                n = sp.Network([4, 3, 2], seed=seed * 1000 + i)
                n.train_step(small_X, np.zeros((3, 2)), lr=0.1)
                del n
        return run

    def read():
        for _ in range(200):
            np.testing.assert_array_equal(keep.predict(X[:32]), expected)

    run_in_threads(churn(1), churn(2), churn(3), read, read)
    np.testing.assert_array_equal(keep.predict(X[:32]), expected)
