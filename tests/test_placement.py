"""The one device policy (``gasr_hf.placement.place``) that generate, annotate, eval and expand use."""

from __future__ import annotations

import pytest
import torch

from gasr_hf.placement import Placement, accelerate_active, place


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr("gasr_hf.placement._bf16_on", lambda index: index == 0)


def test_a_datasets_rank_picks_a_gpu_round_robin(two_gpus: None) -> None:
    assert [place(rank=r).device for r in (0, 1, 2, 3)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert place("cpu", rank=5).device == "cpu"


def test_without_cuda_every_rank_is_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert place(rank=3) == Placement("cpu", "float32")
    assert place("auto").device == "cpu"


def test_a_launcher_local_rank_picks_its_gpu(
    two_gpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gasr_hf.placement.accelerate_active", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert place().device == "cuda:1"
    monkeypatch.delenv("LOCAL_RANK")
    assert place().device == "cuda"


def test_accelerate_state_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from accelerate import PartialState

    state = PartialState()
    assert accelerate_active()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert place().device == str(state.device)


def test_dtype_spellings_and_checks(two_gpus: None) -> None:
    assert place("cpu", "bf16").dtype == "bfloat16"
    assert place("cpu", "fp32").torch_dtype is torch.float32
    assert place("cuda:0", "bfloat16").device == "cuda:0"
    with pytest.raises(ValueError, match="cuda:1 does not support it"):
        place("cuda:1", "bf16")
    with pytest.raises(ValueError, match="dtype must be one of"):
        place("cpu", "int8")


def test_bad_devices_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'gpu0' is not a torch device"):
        place("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda:0': CUDA is not available"):
        place("cuda:0")
    with pytest.raises(ValueError, match="rank must be >= 0"):
        place(rank=-1)


def _threads_in_child(queue) -> None:
    from gasr_hf.placement import single_thread_in_forked_worker

    single_thread_in_forked_worker()
    queue.put(torch.get_num_threads())


def test_a_forked_worker_runs_torch_on_one_thread() -> None:
    import multiprocessing

    from gasr_hf.placement import single_thread_in_forked_worker

    before = torch.get_num_threads()
    single_thread_in_forked_worker()  # the importing process keeps its threads
    assert torch.get_num_threads() == before
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_threads_in_child, args=(queue,))
    child.start()
    assert queue.get(timeout=60) == 1
    child.join()
