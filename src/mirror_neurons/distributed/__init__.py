"""Scale-out: the pipeline's independent tasks in this process or on a Ray cluster.

``executors`` holds the ``Executor`` abstraction (``LocalExecutor``, the default,
and ``RayExecutor``; Ray is imported only when asked for). ``sweep`` cuts a
sweep into groups of models, one task each. The data stage's chunks of games
need no module here: ``data.generate.collect_boards`` maps ``record_chunk`` over
them with whatever executor it is given. See docs/ray.md.
"""
