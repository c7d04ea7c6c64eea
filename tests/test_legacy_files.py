"""Files written by xpnet 0.1 (before the layer/backend-ops refactor) still load and resume.

The fixtures in tests/fixtures/legacy were written by make_legacy.py at commit 5a34840. The
checkpoint holds NumPy ``PCG64`` generator states; since issue 17 the shuffles and dropout masks
come from a counter-based Philox generator, so resuming it restarts those streams from the seed
(with a warning) -- deterministically -- while a checkpoint of today's format resumes exactly.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

import xpnet

LEGACY = Path(__file__).parent / "fixtures" / "legacy"


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_legacy", LEGACY / "make_legacy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_legacy_model_file_predicts_as_saved():
    expected = np.load(LEGACY / "expected_predictions.npz")
    net = xpnet.load(LEGACY / "model.npz")
    np.testing.assert_array_equal(net.predict_proba(expected["X"]), expected["proba"])
    np.testing.assert_array_equal(net.predict(expected["X"]), expected["pred"])


def _resume_legacy(script, tmp_path, name):
    checkpoint = tmp_path / name
    shutil.copy(LEGACY / "checkpoint_epoch3.npz", checkpoint)
    with pytest.warns(UserWarning, match=r"random stream restarts from the seed \(counter 0\)") as record:
        net, history = script.run(resume_from=checkpoint)
    messages = " ".join(str(r.message) for r in record)
    assert "the trainer random stream" in messages and "the net random stream" in messages
    return net, history


def _state(net):
    return {k: np.asarray(v).copy() for k, v in net.state_dict().items()}


def test_legacy_checkpoint_loads_warns_and_resumes_deterministically(tmp_path):
    script = _load_script()
    net, history = _resume_legacy(script, tmp_path, "a.npz")
    again, history_again = _resume_legacy(script, tmp_path, "b.npz")
    expected = np.load(LEGACY / "expected_after_6_epochs.npz")
    # the three epochs before the checkpoint come from the old file, as stored
    np.testing.assert_array_equal(np.array(history.train_loss[:3]), expected["train_loss"][:3])
    np.testing.assert_array_equal(np.array(history.val_loss[:3]), expected["val_loss"][:3])
    assert len(history) == 6 and np.all(np.isfinite(history.train_loss))
    # the resumed epochs continue the old model (not a fresh one): loss keeps falling from epoch 3's
    assert history.train_loss[5] < expected["train_loss"][2]
    # resuming twice gives the same run, bit for bit
    assert history.train_loss == history_again.train_loss and history.val_loss == history_again.val_loss
    ours, theirs = _state(net), _state(again)
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


def test_new_checkpoint_of_the_legacy_run_resumes_bit_identically(tmp_path):
    script = _load_script()
    full_net, full = script.run(epochs=6)
    path = tmp_path / "epoch3.npz"
    script.run(checkpoint=path, epochs=3)
    net, resumed = script.run(resume_from=path, epochs=6)
    assert resumed.train_loss == full.train_loss and resumed.val_loss == full.val_loss
    ours, ref = _state(net), _state(full_net)
    for key in ref:
        np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)
