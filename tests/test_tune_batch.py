"""Batched tuning (issue 18 item 4): ``xpnet tune --batch K`` asks K trials, trains them together, tells each."""

from __future__ import annotations

import dataclasses
import json

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from xpnet import tune as tuning  # noqa: E402
from xpnet.cli import main  # noqa: E402
from xpnet.data import load_dataset  # noqa: E402
from xpnet.tune import Objective, SearchSpace  # noqa: E402
from xpnet.tune.batch import BatchRunner, run_batched  # noqa: E402

# shallow nets over iris, every kind of member a batch may mix: depths, widths, optimizers, batch sizes
SMALL = SearchSpace(
    n_layers=(1, 2), hidden_size=(4, 12), optimizer=("adam", "momentum", "rmsprop"), batch_size=(16, 32),
    batch_norm=(False, True), learning_rate=(1e-2, 1e-1), init_method=("he_normal", "glorot_uniform"),
)  # fmt: skip
EPOCHS = 6


optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris", val_size=0.2, seed=0)


def _study(pruner=None, seed=0):
    return optuna.create_study(
        study_name="xpnet-test", direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.NopPruner(),
    )  # fmt: skip


def _objective(iris, **kwargs):
    return Objective(iris, SMALL, epochs=EPOCHS, dtype="float64", report_every=2, **kwargs)


def _by_params(study):
    return {json.dumps(t.params, sort_keys=True): t for t in study.trials}


def test_a_trials_score_does_not_depend_on_its_batch(iris):
    alone = _study()
    alone.optimize(_objective(iris), n_trials=7)  # --batch 1: study.optimize, one trial at a time
    params = [t.params for t in alone.trials]
    for batch, order in ((3, params[::-1]), (7, params[3:] + params[:3])):
        batched = _study(seed=1)
        for p in order:
            batched.enqueue_trial(p)
        run_batched(batched, _objective(iris), n_trials=7, batch=batch)
        again = _by_params(batched)
        for trial in alone.trials:
            twin = again[json.dumps(trial.params, sort_keys=True)]
            assert twin.state == trial.state == TrialState.COMPLETE
            assert (
                twin.value == trial.value and twin.user_attrs["best_epoch"] == trial.user_attrs["best_epoch"]
            )
            assert twin.intermediate_values == trial.intermediate_values  # reported at the same epochs
    assert len({t.value for t in alone.trials}) > 1  # the trials differ: the comparison has teeth


class _PruneTrial(optuna.pruners.BasePruner):
    """Prunes one trial number at its first report."""

    def __init__(self, number):
        self.number = number

    def prune(self, study, trial):
        return trial.number == self.number


def test_the_pruner_stops_one_member_and_the_batch_goes_on(iris, monkeypatch):
    import xpnet.many

    real, trained = xpnet.many.fit_many, []
    monkeypatch.setattr(xpnet.many, "fit_many", lambda *a, **k: trained.extend(real(*a, **k)) or trained)
    reference = _study()
    reference.optimize(_objective(iris), n_trials=3)
    study = _study(_PruneTrial(1))
    for t in reference.trials:
        study.enqueue_trial(t.params)
    finished = []
    BatchRunner(study, _objective(iris), batch=3, callbacks=[lambda s, t: finished.append(t.number)]).run(3)
    first, pruned, last = study.trials
    assert pruned.state == TrialState.PRUNED and sorted(pruned.intermediate_values) == [2]
    assert pruned.user_attrs["reason"].startswith("pruned at epoch 2")
    for trial, twin in ((first, reference.trials[0]), (last, reference.trials[2])):
        assert trial.state == TrialState.COMPLETE and trial.value == twin.value
        assert sorted(trial.intermediate_values) == [2, 4, 6]
    assert sorted(finished) == [0, 1, 2] and finished[0] == 1  # told when pruned, before the batch ended
    assert [len(r.history) for r in trained] == [EPOCHS, 2, EPOCHS]  # and it trained no further


def test_diverging_and_failing_members_are_pruned_and_failed_with_reasons(iris, monkeypatch):
    good = {"n_layers": 1, "hidden_size_0": 8, "dropout_rate": 0.0, "learning_rate": 0.05, "init_method": "he_normal",
            "optimizer": "adam", "batch_size": 16, "activation": "relu", "weight_decay": 1e-5, "batch_norm": False,
            "clip_type": "none", "clip_value": 1.0}  # fmt: skip
    space = dataclasses.replace(
        SMALL, clip_type=("norm", "none"), optimizer=("adam", "sgd"), learning_rate=(1e-2, 1e6)
    )
    study = _study()
    for p in (
        good,
        {**good, "optimizer": "sgd", "learning_rate": 1e6, "init_method": "glorot_uniform"},
        good,
    ):
        study.enqueue_trial(p)
    objective = Objective(iris, space, epochs=4, report_every=2)
    real = objective.config
    calls = []

    def flaky(trial):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("a draw the run config refuses")
        return real(trial)

    monkeypatch.setattr(objective, "config", flaky)
    run_batched(study, objective, n_trials=3, batch=3)
    ok, diverged, failed = study.trials
    assert ok.state == TrialState.COMPLETE
    assert diverged.state == TrialState.PRUNED and diverged.user_attrs["reason"].startswith(
        "diverged at epoch"
    )
    assert (
        failed.state == TrialState.FAIL
        and failed.user_attrs["reason"] == "ValueError: a draw the run config refuses"
    )


def test_batch_settings_are_checked_before_any_trial():
    with pytest.raises(ValueError, match="batch=0"):
        tuning.TuneSettings(dataset="iris", batch=0)
    with pytest.raises(TypeError, match="objective must be"):
        BatchRunner(_study(), "objective", batch=2)


def test_cli_batches_resume_a_stored_study(tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"n_layers": [1, 1], "hidden_size": [4, 8], "batch_norm": [False]}))
    args = ["tune", "--dataset", "iris", "--epochs", "3", "--space", str(space), "--json", "--batch", "3",
            "--storage", f"journal:{tmp_path / 'study.log'}", "--study-name", "b"]  # fmt: skip
    assert main([*args, "--trials", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["n_trials"] == 4
    assert main([*args, "--trials", "3"]) == 0  # resumed: three more
    result = json.loads(capsys.readouterr().out)
    assert result["n_trials"] == 7 and result["n_complete"] + result["n_pruned"] == 7
    assert main(["tune", "--dataset", "iris", "--batch", "0"]) == 2
    assert "--batch=0" in capsys.readouterr().err


def test_worker_processes_run_batches_of_one_study(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    study = tuning.tune(dataset="iris", space=SMALL, epochs=2, n_trials=6, n_jobs=2, batch=3, storage=storage)
    assert len(study.trials) == 6 and all(t.state.is_finished() for t in study.trials)
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2
