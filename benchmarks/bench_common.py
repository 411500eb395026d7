"""Small helpers the benchmark scripts share (scripts import it as a sibling module: ``python benchmarks/X.py``)."""
from __future__ import annotations

import resource
import statistics


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mean_std(values: list, fmt: str) -> str:
    """'mean ± std' of the values that are not None, one value as itself, none as '-'."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(statistics.mean(values), fmt)} ± {format(statistics.stdev(values), fmt)}"
