"""fit_many (issue 18, item 2): each stacked member ends as its config trained alone with Trainer.fit.

In float64, parameters (rtol 1e-9) and loss curves of every member equal the reference
:func:`xpnet.many.fit_each` (each config built and trained alone, as ``Trainer.fit``), on every
CPU backend, with dropout, batch norm, the three clipping kinds, each optimizer, schedules,
padded widths, early stopping at different epochs, divergence and the ``on_epoch`` hook.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpnet
from xpnet.data import load_dataset
from xpnet.many import fit_each, fit_many

BACKENDS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", "device1"), id="array_api_strict"),
    pytest.param(("torch", "cpu"), id="torch"),
]


@pytest.fixture(params=BACKENDS)
def where(request):
    name, device = request.param
    pytest.importorskip(name)
    return {"backend": name, "device": device, "dtype": "float64"}


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris", val_size=0.2, seed=0)


def _to_np(a):
    try:
        return np.asarray(a.cpu())
    except AttributeError:
        return np.asarray(a) if isinstance(a, np.ndarray) else np.from_dlpack(a)


def assert_same(stacked, alone) -> None:
    """Members equal their runs alone: parameters (rtol 1e-9), loss curves, rates and epochs."""
    assert len(stacked) == len(alone)
    for i, (a, b) in enumerate(zip(stacked, alone, strict=True)):
        ha, hb = a.history, b.history
        for name in ("epoch", "lr", "best_epoch", "stopped_epoch", "diverged_epoch"):
            assert getattr(ha, name) == getattr(hb, name), f"member {i}: {name}"
        for name in ("train_loss", "val_loss", "val_accuracy", "grad_norm"):
            np.testing.assert_allclose(getattr(ha, name), getattr(hb, name), rtol=1e-9, err_msg=f"{i} {name}")
        sa, sb = a.model.state_dict(), b.model.state_dict()
        assert list(sa) == list(sb)
        for key in sb:
            np.testing.assert_allclose(
                _to_np(sa[key]), _to_np(sb[key]), rtol=1e-9, atol=1e-12, err_msg=f"member {i}: {key}"
            )
        assert a.model.layers == b.model.layers


def both(configs, ds, validation=True, **kwargs):
    args = (ds.X_train, ds.y_train) + ((ds.X_val, ds.y_val) if validation else ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit_many(configs, *args, **kwargs), fit_each(configs, *args, **kwargs)


def cfg(where, **settings):
    base = {"epochs": 4, "batch_size": 16, "patience": 0, **where}
    return xpnet.RunConfig(**{**base, **settings})


# Members of one group differ in seed, widths (padded), rates, dropout, decay and thresholds;
# each list is one stacked group (one optimizer, one clipping kind).
def _cases(where):
    return {
        "adam-dropout": [
            cfg(where, hidden=(8, 6), seed=0, dropout=0.2, lr=1e-2, init="glorot_uniform"),
            cfg(where, hidden=(5, 6), seed=1, dropout=0.0, lr=3e-3),
            cfg(where, hidden=(8, 3), seed=2, dropout=0.5, lr=1e-2, weight_decay=1e-3),
        ],
        "momentum-batchnorm-sigmoid": [
            cfg(
                where,
                hidden=(8, 4),
                seed=0,
                batch_norm=True,
                activation="sigmoid",
                optimizer="momentum",
                lr=0.05,
                momentum=0.9,
            ),
            cfg(
                where,
                hidden=(5, 7),
                seed=1,
                batch_norm=True,
                activation="sigmoid",
                optimizer="momentum",
                lr=0.1,
                momentum=0.5,
                dropout=0.0,
            ),
        ],
        "sgd-clip-value": [
            cfg(where, hidden=(6,), seed=0, optimizer="sgd", lr=0.3, clip="value", clip_value=0.01),
            cfg(
                where,
                hidden=(4,),
                seed=1,
                optimizer="sgd",
                lr=0.2,
                clip="value",
                clip_value=0.1,
                weight_decay=1e-3,
            ),
        ],
        "rmsprop-clip-norm": [
            cfg(where, hidden=(6,), seed=0, optimizer="rmsprop", clip="norm", clip_value=0.01),
            cfg(where, hidden=(6,), seed=1, optimizer="rmsprop", clip="norm", clip_value=0.5, lr=1e-3),
        ],
        "adamw-clip-global-cosine": [
            cfg(
                where,
                hidden=(6,),
                seed=0,
                optimizer="adamw",
                clip="global_norm",
                clip_value=0.01,
                schedule="cosine",
            ),
            cfg(
                where,
                hidden=(7,),
                seed=1,
                optimizer="adamw",
                clip="global_norm",
                clip_value=0.5,
                weight_decay=0.1,
                schedule="step",
                step_size=1,
                gamma=0.5,
            ),
        ],
        "nesterov-tanh-plateau": [
            cfg(
                where,
                hidden=(6,),
                seed=0,
                optimizer="nesterov",
                activation="tanh",
                lr=0.05,
                schedule="plateau",
                schedule_patience=0,
                gamma=0.5,
            ),
            cfg(
                where,
                hidden=(6,),
                seed=1,
                optimizer="nesterov",
                activation="tanh",
                lr=0.02,
                schedule="exponential",
                gamma=0.9,
            ),
        ],
    }


@pytest.mark.parametrize(
    "case",
    [
        "adam-dropout",
        "momentum-batchnorm-sigmoid",
        "sgd-clip-value",
        "rmsprop-clip-norm",
        "adamw-clip-global-cosine",
        "nesterov-tanh-plateau",
    ],
)
def test_each_member_equals_its_run_alone(where, iris, case):
    configs = _cases(where)[case]
    assert_same(*both(configs, iris))


def test_all_groups_at_once_without_validation_data(where, iris):
    """Every case in one call (several groups side by side, different depths), scored on the training loss."""
    configs = [c.replace(epochs=2) for group in _cases(where).values() for c in group]
    stacked, alone = both(configs, iris, validation=False)
    assert_same(stacked, alone)


@pytest.mark.parametrize("validation", [True, False])
def test_early_stopping_stops_members_at_different_epochs(where, iris, validation):
    configs = [
        cfg(
            where,
            hidden=(6,),
            seed=s,
            optimizer="sgd",
            lr=lr,
            patience=p,
            epochs=12,
            restore_best=r,
            batch_size=bs,
        )
        for s, lr, p, r, bs in [
            (0, 2.0, 1, True, 32),
            (1, 0.5, 2, True, 16),
            (2, 0.05, 1, False, 0),
            (3, 4.0, 1, True, 8),
        ]
    ]
    stacked, alone = both(configs, iris, validation)
    assert_same(stacked, alone)
    assert len({len(r.history) for r in stacked}) > 1  # members stopped at different epochs


def test_a_diverging_member_is_restored_and_the_others_run_on(where, iris):
    configs = [
        cfg(where, hidden=(6,), seed=0, optimizer="sgd", lr=1e300, epochs=6, batch_size=0),
        cfg(where, hidden=(6,), seed=1, optimizer="sgd", lr=0.1, epochs=6, batch_size=0),
    ]
    stacked, alone = both(configs, iris)
    assert stacked[0].history.diverged and not stacked[1].history.diverged
    assert_same(stacked, alone)


def test_on_epoch_stops_members_and_leaves_the_others_unchanged(iris):
    where = {"backend": "numpy", "device": None, "dtype": "float64"}
    configs = [cfg(where, hidden=(6,), seed=s, epochs=6) for s in range(3)]
    seen = []

    def hook(epoch, histories, active):
        seen.append((epoch, list(active)))
        return [1] if epoch == 2 and active[1] else None

    stacked, alone = both(configs, iris, on_epoch=hook)
    assert_same(stacked, alone)
    assert stacked[1].history.stopped_epoch == 2 and len(stacked[1].history) == 2
    assert len(stacked[0].history) == 6
    plain = fit_each(configs, iris.X_train, iris.y_train, iris.X_val, iris.y_val)
    assert_same([stacked[0], stacked[2]], [plain[0], plain[2]])


def test_refuses_configs_that_cannot_share_a_call(iris):
    X, y = iris.X_train, iris.y_train
    with pytest.raises(ValueError, match=r"configs\[1\]\.dtype"):
        fit_many([xpnet.RunConfig(), xpnet.RunConfig(dtype="float64")], X, y)
    with pytest.raises(ValueError, match=r"configs\[1\]\.loss"):
        fit_many([xpnet.RunConfig(), xpnet.RunConfig(loss="mse")], X, y)
    with pytest.raises(TypeError, match="sequence of xpnet.RunConfig"):
        fit_many(xpnet.RunConfig(), X, y)
    with pytest.raises(TypeError, match=r"configs\[0\]"):
        fit_many([{"seed": 0}], X, y)
    with pytest.raises(ValueError, match="at least one"):
        fit_many([], X, y)
    with pytest.raises(ValueError, match="X_val and y_val"):
        fit_many([xpnet.RunConfig()], X, y, iris.X_val)
    with pytest.raises(TypeError, match="on_epoch"):
        fit_many([xpnet.RunConfig()], X, y, on_epoch=3)
