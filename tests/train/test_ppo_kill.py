"""PPO after a real kill -9 (issue 17): its own file, as it starts a second Python process."""

import torch

from mirror_neurons.train.ppo import PPOConfig, train_ppo
from test_ppo import TINY, final_weights  # tests/train is on the path (pytest prepend import mode)


def test_kill_9_at_any_moment_then_resume_gives_the_uninterrupted_weights(tmp_path):
    """A real SIGKILL of a training process (once its first resume file exists): rerunning continues exactly."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = PPOConfig(**(TINY | {"total_steps": 8 * 4 * 16}))  # 16 iterations: time to be killed mid-run
    train_ppo(cfg, tmp_path / "straight")
    code = ("import sys, torch; torch.set_num_threads(1); from mirror_neurons.train.ppo import PPOConfig, train_ppo; "
            f"train_ppo(PPOConfig.from_dict({cfg.to_dict()!r}), sys.argv[1])")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "killed")])
    deadline = time.monotonic() + 120
    while (
        not (tmp_path / "killed" / "resume.safetensors").exists()
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    train_ppo(cfg, tmp_path / "killed")
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)
