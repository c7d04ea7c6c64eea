"""Files written by xpnet 0.1 (before the layer/backend-ops refactor) still load and resume exactly.

The fixtures in tests/fixtures/legacy were written by make_legacy.py at commit 5a34840.
"""

import shutil
from pathlib import Path

import numpy as np

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


def test_legacy_checkpoint_resumes_bit_identically(tmp_path):
    script = _load_script()
    checkpoint = tmp_path / "checkpoint.npz"
    shutil.copy(LEGACY / "checkpoint_epoch3.npz", checkpoint)
    net, history = script.run(resume_from=checkpoint)
    expected = np.load(LEGACY / "expected_after_6_epochs.npz")
    np.testing.assert_array_equal(np.array(history.train_loss), expected["train_loss"])
    np.testing.assert_array_equal(np.array(history.val_loss), expected["val_loss"])
    state = net.state_dict()
    keys = sorted(k[len("state/") :] for k in expected.files if k.startswith("state/"))
    assert sorted(state) == keys
    for key in keys:
        np.testing.assert_array_equal(np.asarray(state[key]), expected[f"state/{key}"], err_msg=key)
