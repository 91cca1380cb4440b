"""The train stage: the paper's MLPs, trained many at once, resumable, checkpointed at every improving epoch.

``model`` (the MLP) and ``encoding`` (its input features); ``config``
(``TrainConfig``); ``trainer`` (``train``, ``train_many``: the loop and its
random protocol) over ``stack`` (many models as stacked tensors) and
``batches`` (the encoded dataset); ``resume`` (each model's state files),
``run_folder`` (run.json, checkpoint names and metadata) and ``checkpoint``
(the checkpoint files); ``reference`` (the same training as a plain PyTorch
loop, the trainer's specification in tests); ``sweep`` (TOML sweeps) and
``groups`` (a sweep cut into tasks for an executor); ``progress`` (live
display); ``export`` (checkpoints to and from plain torch); ``ppo`` (Frog trained by
playing, with PPO).
"""
