"""PyTorch's thread count, which ``torch.set_num_threads`` sets for a whole worker process: a
trial that raised it left every later trial on that worker, later studies' too, competing for
the cores, four times slower, and nothing said why (first-day test, round 28)."""
from __future__ import annotations

import sys
import types

import pytest

import nbtune
from nbtune.run.threads import torch_threads_kept


def sets_threads(config):
    import torch

    seen = torch.get_num_threads()
    if config["q"] == 0:
        torch.set_num_threads(seen + 1)  # "use both cores", as a PyTorch notebook does
    nbtune.report(epoch=1, threads=seen)
    return {"threads": seen}


def test_a_trials_torch_threads_are_put_back_and_the_trial_told(client):
    pytest.importorskip("torch")
    study = nbtune.tune(sets_threads, {"q": nbtune.grid(0, 1, 2, 3)}, searcher="grid",
                        metric="threads", concurrency=1, cluster=client, storage=None,
                        progress=False)
    seen = [int(t.value) for t in study.trials]
    assert len(set(seen)) == 1, seen  # the trials after the first had its share, not one more
    later = nbtune.tune(sets_threads, {"q": nbtune.grid(1, 2)}, searcher="grid",
                        metric="threads", concurrency=1, cluster=client, storage=None,
                        progress=False)
    assert [int(t.value) for t in later.trials] == seen[:2]  # nor did a later study
    (warned,) = [w for w in study.trials[0].warnings if "torch.set_num_threads" in w["message"]]
    assert warned["message"].startswith(f"the trial set torch to {seen[0] + 1} threads "
                                        f"(torch.set_num_threads), where each trial here has "
                                        f"{seen[0]}")
    assert not any(t.warnings for t in study.trials[1:])


class Threads(types.ModuleType):
    """A stand-in for the two functions of torch this reads and sets, for where torch is not
    installed (CI): its thread count is one number of the process, as torch's is."""

    def __init__(self, n: int):
        super().__init__("torch")
        self.n = n

    def get_num_threads(self) -> int:
        return self.n

    def set_num_threads(self, n: int) -> None:
        self.n = n


def test_the_thread_count_is_put_back_raised_or_lowered_and_only_a_raise_is_told(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", Threads(1))
    said = []
    with torch_threads_kept(said.append):
        sys.modules["torch"].set_num_threads(4)
    assert sys.modules["torch"].n == 1 and len(said) == 1
    assert said[0]["category"] == "NbtuneWarning" and "where each trial here has 1" in \
        said[0]["message"]
    with pytest.raises(ValueError), torch_threads_kept(said.append):  # a failed trial too
        sys.modules["torch"].set_num_threads(3)
        raise ValueError("diverged")
    assert sys.modules["torch"].n == 1 and len(said) == 2
    sys.modules["torch"].n = 4
    with torch_threads_kept(said.append):
        sys.modules["torch"].set_num_threads(2)  # fewer: put back, nothing to say
    assert sys.modules["torch"].n == 4 and len(said) == 2
    monkeypatch.delitem(sys.modules, "torch")  # imported by the trial: the worker's share
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with torch_threads_kept(said.append):
        monkeypatch.setitem(sys.modules, "torch", Threads(8))
    assert sys.modules["torch"].n == 2 and len(said) == 3
