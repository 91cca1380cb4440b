"""Scale-out: where the pipeline's independent tasks run, in this process, in worker processes or on a Ray cluster.

``executors`` holds the ``Executor`` abstraction (``LocalExecutor``, the default,
``ProcessExecutor`` and ``RayExecutor``; Ray is imported only when asked for).
It is infrastructure below every stage and imports none of them: each stage says
what its tasks are and takes an executor from its caller. The data stage maps
``data.generate.record_chunk`` over chunks of games; a sweep trains groups of
models (``train.groups``). See docs/ray.md.
"""
