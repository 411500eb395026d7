import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one thread is faster on a shared machine (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
