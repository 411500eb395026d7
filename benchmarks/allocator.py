"""One epoch of the default conv VAE on 10k MNIST images with glibc's default allocator thresholds
(argument 0, GENLAB_MALLOC_TUNING=0) or genlab's (argument 1): whole-process user / system CPU time,
minor page faults and peak memory from getrusage.

    OMP_NUM_THREADS=1 python benchmarks/allocator.py 0
    OMP_NUM_THREADS=1 python benchmarks/allocator.py 1
"""
import os
import sys

os.environ["GENLAB_MALLOC_TUNING"] = sys.argv[1]
import resource  # noqa: E402

import genlab  # noqa: E402

genlab.train("vae", data={"dataset": "mnist", "limit": 10000},
             train={"epochs": 1, "batch_size": 128, "precision": "fp32", "sample_every": 0, "log_every": 0,
                    "eval_batches": 1, "mode_check": "off", "device": "cpu"})
r = resource.getrusage(resource.RUSAGE_SELF)
print(f"tuned={sys.argv[1]} user {r.ru_utime:.2f} sys {r.ru_stime:.2f} faults {r.ru_minflt} "
      f"maxrss {r.ru_maxrss/1024:.0f}MB", file=sys.stderr)
