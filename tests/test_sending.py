"""The data a study sends stays on the workers for the next study of the same content.

A tuning session is many studies on one ``X_train``, and each sent it again (5.7 s for 610 MiB
in the first-day test of round 21).
"""
import gc
import time

import numpy as np
import pandas as pd
import pytest

import nbtune
from nbtune.run.sending import KEPT_FROM, Sending, check_fits, forget_kept

MIB = 2**20


def total_of(config, X):
    return float(np.asarray(X).sum()) * config["x"]


def scattered_keys(client, prefix):
    """The keys of the cluster's scattered values whose names start with ``prefix``."""
    return {k for k in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))
            if str(k).startswith(prefix)}


def settled(check, timeout=10.0):
    """``check()``'s value once it is true, or its last value after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while not (value := check()) and time.time() < deadline:
        time.sleep(0.05)
    return value


def study(client, X):
    return nbtune.tune(nbtune.with_parameters(total_of, X=X), {"x": nbtune.fixed(1.0)},
                       metric="total", n_trials=1, cluster=client, storage=None, progress=False)


@pytest.fixture
def fresh(client):
    forget_kept()
    yield client
    forget_kept()


def test_the_next_study_of_the_same_data_finds_it_on_the_workers(fresh):
    X = np.ones((300, 1000))  # 2.3 MiB
    before = scattered_keys(fresh, "ndarray-")
    assert study(fresh, X).best_value == 300_000.0
    first = scattered_keys(fresh, "ndarray-") - before
    assert len(first) == 1
    again = Sending(fresh, nbtune.with_parameters(total_of, X=X))
    assert list(again.found) == ["X"] and again.sizes == {}  # nothing to send, nothing to check
    assert study(fresh, X.copy()).best_value == 300_000.0  # a copy: the same content
    assert scattered_keys(fresh, "ndarray-") - before == first  # not sent again


def test_changed_data_is_sent_again_and_the_old_copy_released(fresh):
    X = np.ones((300, 1000))
    before = scattered_keys(fresh, "ndarray-")
    study(fresh, X)
    first = scattered_keys(fresh, "ndarray-") - before
    X[123, 456] = 2.0  # changed in place: the same object, other content
    changed = Sending(fresh, nbtune.with_parameters(total_of, X=X))
    assert changed.found == {} and changed.sizes == {"X": X.nbytes}
    assert changed.freed >= X.nbytes  # the last study's copy goes before this one travels
    assert study(fresh, X).best_value == 300_001.0
    now = settled(lambda: scattered_keys(fresh, "ndarray-") - before - first and
                  not first & scattered_keys(fresh, "ndarray-") and
                  scattered_keys(fresh, "ndarray-") - before)
    assert len(now) == 1 and not now & first


def test_the_workers_copy_goes_with_the_notebooks_object(fresh):
    frame = pd.DataFrame(np.ones((300, 1000)))
    before = scattered_keys(fresh, "DataFrame-")
    assert study(fresh, frame).best_value == 300_000.0
    assert len(scattered_keys(fresh, "DataFrame-") - before) == 1  # kept after the study
    del frame
    gc.collect()
    assert settled(lambda: not scattered_keys(fresh, "DataFrame-") - before)


def test_an_earlier_object_of_the_same_content_does_not_release_a_later_copy(fresh):
    first = np.ones((300, 1000))
    study(fresh, first)
    study(fresh, np.zeros((300, 1000)))  # other data: the copy of the ones goes
    again = np.ones((300, 1000))  # the same content as first, sent again: another copy
    study(fresh, again)
    del first  # its tie was to the copy that went, not to this one
    gc.collect()
    assert list(Sending(fresh, nbtune.with_parameters(total_of, X=again)).found) == ["X"]


def test_a_view_is_kept_while_the_array_it_shows_lives(fresh):
    frame = pd.DataFrame(np.ones((300, 1000)))
    before = scattered_keys(fresh, "ndarray-")
    study(fresh, frame.values)  # a new view at each call, collected after its study
    gc.collect()
    first = scattered_keys(fresh, "ndarray-") - before
    assert len(first) == 1
    study(fresh, frame.values)
    assert scattered_keys(fresh, "ndarray-") - before == first


def test_small_data_and_other_kinds_are_sent_each_time(fresh):
    small = np.ones(100)
    assert small.nbytes < KEPT_FROM
    study(fresh, small)
    assert Sending(fresh, nbtune.with_parameters(total_of, X=small)).found == {}
    listed = [1.0] * 200_000  # a list's token would pickle every element
    fn = nbtune.with_parameters(lambda config, X: sum(X), X=listed)
    nbtune.tune(fn, {"x": nbtune.fixed(1)}, metric="s", n_trials=1, cluster=fresh,
                storage=None, progress=False)
    assert Sending(fresh, fn).found == {}


def kinds_of(config, docs, pairs, by_name):
    return {"n": len(docs), "first": docs[0],
            "kinds": " ".join(type(v).__name__ for v in (docs, pairs, by_name))}


def test_lists_tuples_and_dicts_reach_the_trial_as_they_are_sent_in_one_piece(fresh):
    """A text classifier's documents as a list: Dask serializes a list item by item, and
    scattering 200,000 of them took seconds (17 s for floats) before the first trial ran."""
    docs = [f"document {i}" for i in range(200_000)]
    fn = nbtune.with_parameters(kinds_of, docs=docs, pairs=(1, 2), by_name={"a": [1, 2]})
    # what a study sends, each value in one piece, read while its futures are held (after the
    # study the cluster lets them go, and a read raced the release: a make test run)
    shared, _ = Sending(fresh, fn).send()
    assert sorted(str(f.key).split("-")[0] for f in shared.values()) == ["Whole"] * 3
    assert {f.key for f in shared.values()} <= scattered_keys(fresh, "Whole-")
    del shared
    done = nbtune.tune(fn, {"x": nbtune.fixed(1)}, metric="n", n_trials=1, cluster=fresh,
                       storage=None, progress=False)
    assert done.best_value == 200_000
    assert done.trials[0].metrics["kinds"] == "list tuple dict"
    assert done.trials[0].metrics["first"] == "document 0"


def test_data_lost_on_the_cluster_is_sent_again(fresh):
    X = np.ones((300, 1000))
    study(fresh, X)
    kept = Sending(fresh, nbtune.with_parameters(total_of, X=X)).found["X"]
    fresh.cancel([kept])  # as a restart of the workers leaves it
    assert settled(lambda: kept.status != "finished")
    assert Sending(fresh, nbtune.with_parameters(total_of, X=X)).found == {}
    assert study(fresh, X).best_value == 300_000.0


def test_a_large_trial_function_is_sent_once_for_studies_of_the_same_bytes(fresh):
    big = np.arange(300_000, dtype=float)  # its bytes pass 1 MB: sent apart from the tasks
    before = scattered_keys(fresh, "PickledOnce-")
    for _ in range(2):  # as a cell run twice defines its function again
        def reads_a_large_array(config):
            return float(big[-1]) * config["x"]

        done = nbtune.tune(reads_a_large_array, {"x": nbtune.fixed(1.0)}, metric="v",
                           n_trials=1, cluster=fresh, storage=None, progress=False)
        assert done.best_value == 299_999.0
        assert len(scattered_keys(fresh, "PickledOnce-") - before) == 1


def held_bytes(entry) -> int:
    """The bytes of the frames a message that Dask's client logged holds (roughly)."""
    if isinstance(entry, (bytes, bytearray, memoryview)):
        return len(entry)
    if isinstance(entry, dict):
        return sum(held_bytes(v) for v in entry.values())
    if isinstance(entry, (list, tuple)):
        return sum(held_bytes(v) for v in entry)
    frames = getattr(entry, "frames", None)
    return sum(len(f) for f in frames) if frames is not None else 0


def test_a_trial_function_that_holds_an_array_is_not_in_each_trials_task(fresh):
    """Dask's client keeps its last 1,000 messages under 1 MB: with a 320 KB function in each
    trial's task, the notebook held 12 MB more at each study of 20 trials (first-day test,
    round 22)."""
    data = np.arange(40_000, dtype=float)  # 320 KB: past INLINE_BYTES, under Dask's 1 MB

    def reads_it(config):
        return float(data[-1]) * config["x"]

    before = scattered_keys(fresh, "PickledOnce-")
    logged = fresh.scheduler_comm.recent_message_log
    earlier = {id(entry) for entry in logged}  # the session's other tests' messages
    nbtune.tune(reads_it, {"x": nbtune.uniform(0, 1)}, metric="v", n_trials=20, cluster=fresh,
                storage=None, progress=False)
    assert sum(held_bytes(entry) for entry in list(logged)
               if id(entry) not in earlier) < 20 * data.nbytes / 10
    assert len(scattered_keys(fresh, "PickledOnce-") - before) == 1  # sent once


def test_the_memory_check_counts_what_the_last_study_releases():
    limits = {"tcp://a:1": (400 * MIB, 300 * MIB)}  # its process holds the last study's 250 MiB
    with pytest.raises(ValueError, match="does not fit"):
        check_fits(limits, {"X": 200 * MIB})
    said = check_fits(limits, {"X": 200 * MIB}, freed=250 * MIB)  # fits, in 270 MiB of room
    assert "takes 74% of the room" in said and "whose process uses 50.00 MiB" in said


def tensor_total(config, X):
    return float(X.sum()) * config["x"]


def test_a_pytorch_tensor_and_its_dataset_are_kept_like_an_array(fresh):
    """A tensor was sent again at each run of the cell: 293 MiB, 3.5 s, where a numpy array was
    kept (first-day test, round 28). Run where PyTorch is installed."""
    torch = pytest.importorskip("torch")
    from torch.utils.data import TensorDataset

    X = torch.ones((300, 1000))
    run = lambda data: nbtune.tune(  # noqa: E731
        nbtune.with_parameters(tensor_total, X=data), {"x": nbtune.fixed(1.0)}, metric="total",
        n_trials=1, cluster=fresh, storage=None, progress=False)
    assert run(X).best_value == 300_000.0
    assert list(Sending(fresh, nbtune.with_parameters(tensor_total, X=X)).found) == ["X"]
    assert list(Sending(fresh, nbtune.with_parameters(tensor_total, X=X.clone())).found) == ["X"]
    X[0, 0] = 2.0  # changed in place: sent again, and the trial sees the change
    assert Sending(fresh, nbtune.with_parameters(tensor_total, X=X)).found == {}
    assert run(X).best_value == 300_001.0
    data = TensorDataset(torch.ones(300, 1000), torch.zeros(300))
    sending = Sending(fresh, nbtune.with_parameters(tensor_total, X=data))
    assert sending.sizes == {"X": 300 * 1000 * 4 + 300 * 4}  # Dask's sizeof said 56 bytes
    sending.send()
    assert list(Sending(fresh, nbtune.with_parameters(
        tensor_total, X=TensorDataset(torch.ones(300, 1000), torch.zeros(300)))).found) == ["X"]
    grad = torch.ones(300, 1000, requires_grad=True)  # a parameter, not data: not kept
    Sending(fresh, nbtune.with_parameters(tensor_total, X=grad)).send()
    assert Sending(fresh, nbtune.with_parameters(tensor_total, X=grad)).found == {}


def released_without_the_collector(client, run_first) -> bool:
    """Whether the copy a first study (``run_first(X)``) sent to the workers is gone from them
    once a second study sends changed data, Python's cyclic collector off meanwhile."""
    gc.collect()
    gc.disable()
    try:
        X = np.ones((300, 1000))
        before = scattered_keys(client, "ndarray-")
        run_first(X)
        first = scattered_keys(client, "ndarray-") - before
        assert first
        X[0, 0] = 2.0
        study(client, X)
        return settled(lambda: not first & scattered_keys(client, "ndarray-"))
    finally:
        gc.enable()


def test_a_studys_copy_is_released_without_the_garbage_collector(fresh):
    """The study's loop held the data it sent in a reference cycle (its fail-fast rule's
    function of the loop): the old copy stayed on the workers until Python's cyclic collector
    ran, and the full suite's run of the test above failed on it."""
    assert released_without_the_collector(fresh, lambda X: study(fresh, X))


def test_a_model_based_studys_copy_is_released_without_the_garbage_collector(fresh):
    """A searcher that thinks on its thread, a scheduler that may judge by its model: neither
    keeps the loop, nor its data, past the study."""
    space = {"x": nbtune.uniform(0.5, 1.0)}
    assert released_without_the_collector(fresh, lambda X: nbtune.tune(
        nbtune.with_parameters(total_of, X=X), space, metric="total", n_trials=3,
        searcher="bayesopt", scheduler="asha", max_t=3, cluster=fresh, storage=None,
        progress=False))
