"""The Gymnasium environment through the clients a new user reaches for first (issue 15, item 2).

Stable-Baselines3's ``make_vec_env`` asks for ``render_mode="rgb_array"`` by
default, its ``check_env`` checks the API its algorithms rely on, and
``gymnasium.wrappers.RecordVideo`` records ``rgb_array`` frames (writing the
file needs moviepy). Each is exercised here as a user would call it.
"""

from __future__ import annotations

import sys
import types
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import RecordVideo

import mirror_neurons.game as game
from mirror_neurons.errors import ConfigError
from mirror_neurons.game import GameBatch, GameConfig
from mirror_neurons.game.adapters import UnsupportedRenderMode
from mirror_neurons.game.constants import Player
from mirror_neurons.game.render import render_rgb

IMAGE_SHAPE = (64, 512, 3)

try:
    import stable_baselines3
except ImportError:  # the RecordVideo tests below still run
    stable_baselines3 = None
needs_sb3 = pytest.mark.skipif(
    stable_baselines3 is None,
    reason="stable-baselines3 is not installed (it is in the 'test' extra: pip install -e '.[test]')",
)


@needs_sb3
def test_make_vec_env_builds_rgb_array_envs_that_play_the_engines_games():
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env(game.ENV_ID, n_envs=2, seed=3, env_kwargs={"max_turns": 20})
    try:
        assert vec.render_mode == "rgb_array"  # SB3's default, which used to crash the constructor
        obs = vec.reset()  # env k is reset with seed 3 + k: game 0 of seeds 3 and 4
        assert obs.shape == (2, 100) and obs.dtype == np.int64
        for k in range(2):
            np.testing.assert_array_equal(
                obs[k], GameBatch(GameConfig(max_turns=20), 3 + k, [0]).observe(Player.FROG)[0]
            )
        images = vec.get_images()
        assert [image.shape for image in images] == [IMAGE_SHAPE] * 2
        for _ in range(10):  # 20 turns = 10 steps: both episodes end on the last one and restart
            obs, rewards, dones, infos = vec.step(np.array([0, 0]))
        assert dones.tolist() == [True, True] and "terminal_observation" in infos[0]
    finally:
        vec.close()


@needs_sb3
@pytest.mark.slow
def test_ppo_trains_a_few_steps_on_the_vec_env():
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores
    try:
        vec = make_vec_env(game.ENV_ID, n_envs=2, seed=0, env_kwargs={"max_turns": 40})
        model = PPO("MlpPolicy", vec, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
        model.learn(total_timesteps=64)  # one rollout of 32 steps in each env: its 20-step episode ends and restarts
        actions, _ = model.predict(vec.reset())
        assert actions.shape == (2,) and set(actions.tolist()) <= {0, 1, 2, 3}
        vec.close()
    finally:
        torch.set_num_threads(threads)


@needs_sb3
@pytest.mark.parametrize("mode", [None, "ansi", "rgb_array"])
def test_sb3_check_env_passes_without_warnings(mode):
    from stable_baselines3.common.env_checker import check_env

    env = gym.make(game.ENV_ID, max_turns=30, render_mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns about anything its algorithms would mishandle
        check_env(env.unwrapped, warn=True, skip_render_check=False)


def test_an_unsupported_render_mode_is_gymnasiums_unsupported_mode_error():
    with pytest.warns(UserWarning, match="not in the possible render_modes"):  # gym.make's own warning first
        with pytest.raises(
            gym.error.UnsupportedMode, match=r"render_mode must be one of \['ansi', 'human', 'rgb_array'\]"
        ):
            gym.make(game.ENV_ID, render_mode="rgb")
    with pytest.raises(UnsupportedRenderMode) as raised:
        game.env(render_mode="video")
    assert isinstance(raised.value, ConfigError)  # the CLI's one-line message, exit code 2


def test_rgb_array_list_collects_one_image_per_step():
    env = gym.make(game.ENV_ID, max_turns=6, render_mode="rgb_array_list")  # Gymnasium's RenderCollection
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)
    frames = env.render()
    assert len(frames) == 4 and all(f.shape == IMAGE_SHAPE and f.dtype == np.uint8 for f in frames)


# -- RecordVideo ------------------------------------------------------------------------------


class FakeClip:
    """Stands in for moviepy's ``ImageSequenceClip``: keeps what RecordVideo hands it."""

    written: list[tuple[str, list[np.ndarray], float]] = []

    def __init__(self, frames, fps):
        self.frames, self.fps = list(frames), fps

    def write_videofile(self, path, logger=None):
        FakeClip.written.append((path, self.frames, self.fps))


@pytest.fixture
def fake_moviepy(monkeypatch):
    """A stub ``moviepy`` so the wrapper can be built and its frames inspected without moviepy or ffmpeg."""
    FakeClip.written = []
    names = ["moviepy", "moviepy.video", "moviepy.video.io", "moviepy.video.io.ImageSequenceClip"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["moviepy.video.io.ImageSequenceClip"].ImageSequenceClip = FakeClip
    return FakeClip


def test_record_video_collects_the_episodes_frames(tmp_path, fake_moviepy):
    env = RecordVideo(gym.make(game.ENV_ID, max_turns=10, render_mode="rgb_array"), str(tmp_path), name_prefix="frog")
    env.reset(seed=5)
    expected = [render_rgb(env.unwrapped.one.game)]
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(0)
        expected.append(render_rgb(env.unwrapped.one.game))
    env.close()
    [(path, frames, fps)] = fake_moviepy.written
    assert path == str(tmp_path / "frog-episode-0.mp4") and fps == 4  # metadata["render_fps"]
    assert len(frames) == 6  # the reset, then 5 steps of 2 turns
    for frame, want in zip(frames, expected):
        np.testing.assert_array_equal(frame, want)


def test_record_video_writes_an_mp4(tmp_path):
    pytest.importorskip(
        "moviepy", reason="moviepy is not installed: RecordVideo needs it (and ffmpeg) to write the file"
    )
    env = RecordVideo(gym.make(game.ENV_ID, max_turns=8, render_mode="rgb_array"), str(tmp_path), name_prefix="frog")
    env.reset(seed=5)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(0)
    env.close()
    video = tmp_path / "frog-episode-0.mp4"
    assert video.is_file() and video.stat().st_size > 0
