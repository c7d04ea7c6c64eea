"""Hyperparameter search: the space, the pruned objective, storages, worker processes and `xpnet tune`."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import FloatDistribution  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from xpnet import tune as tuning  # noqa: E402
from xpnet.cli import main  # noqa: E402
from xpnet.config import RunConfig  # noqa: E402
from xpnet.data import load_dataset  # noqa: E402
from xpnet.tune import Objective, SearchSpace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# a small, fast space for tests: shallow nets that learn iris in a few epochs
SMALL = SearchSpace(
    n_layers=(1, 2), hidden_size=(8, 16), optimizer=("adam", "momentum"), init_method=("he_normal", "glorot_uniform"),
    batch_size=(16, 32), batch_norm=False, learning_rate=(1e-2, 1e-1),
)  # fmt: skip
GOOD = {"n_layers": 1, "hidden_size_0": 16, "dropout_rate": 0.0, "learning_rate": 0.05, "init_method": "he_normal",
        "optimizer": "adam", "batch_size": 16, "activation": "relu", "weight_decay": 1e-5, "batch_norm": False,
        "clip_type": "global_norm", "clip_value": 1.0}  # fmt: skip


@pytest.fixture(autouse=True)
def _quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris", val_size=0.2, seed=0)


def _study(pruner=None):
    # a fixed name: HyperbandPruner picks each trial's bracket from a hash of the study's
    # name, and the default name is a fresh UUID, which made its pruning test flaky
    return optuna.create_study(
        study_name="xpnet-test",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=pruner,
    )


def _xpnet(*args, **kwargs):
    """Run the console entry point in a fresh interpreter (as a worker on another host would)."""
    cmd = [sys.executable, "-m", "xpnet.cli", *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def _finished(study):
    return {t.number: t for t in study.get_trials(deepcopy=False) if t.state.is_finished()}


# --- the search space ------------------------------------------------------------------------


def test_default_space_is_the_articles_plus_trainer_options():
    space = SearchSpace()
    assert space.n_layers == (1, 10) and space.hidden_size == (32, 128)
    assert space.dropout_rate == (0.0, 0.5) and space.learning_rate == (1e-3, 1e-1)
    assert set(space.init_method) == {
        "zeros",
        "random",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
    }
    assert set(space.clip_type) == {"value", "norm", "global_norm"}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        config = space.suggest(trial)
        assert len(config["hidden"]) == trial.params["n_layers"]
        assert all(32 <= h <= 128 for h in config["hidden"])
        assert 0.0 <= config["dropout"] <= 0.5 and 1e-3 <= config["lr"] <= 1e-1
        assert config["clip"] in ("value", "norm", "global_norm") and 0.5 <= config["clip_value"] <= 5.0
        RunConfig().replace(**config)  # every key is a run config field (an `xpnet train` option)
        lr = trial.distributions["learning_rate"]
        assert isinstance(lr, FloatDistribution) and lr.log
        study.tell(trial, 0.5)


def test_space_overrides_from_python_json_and_yaml(tmp_path):
    space = SearchSpace.from_dict({"n_layers": [2, 3], "optimizer": "adam", "clip_type": ["none"]})
    assert space.n_layers == (2, 3) and space.optimizer == ("adam",) and space.hidden_size == (32, 128)
    trial = optuna.create_study().ask()
    config = space.suggest(trial)
    assert config["optimizer"] == "adam" and config["clip"] is None and "clip_value" not in config
    assert 2 <= len(config["hidden"]) <= 3
    (tmp_path / "s.json").write_text(json.dumps({"hidden_size": [8, 16], "batch_size": [64]}))
    assert SearchSpace.from_file(tmp_path / "s.json").batch_size == (64,)
    yaml = pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"learning_rate": [0.01, 0.02], "batch_norm": True}))
    from_yaml = SearchSpace.from_file(tmp_path / "s.yaml", base=space)
    assert (
        from_yaml.learning_rate == (0.01, 0.02)
        and from_yaml.batch_norm == (True,)
        and from_yaml.n_layers == (2, 3)
    )
    assert SearchSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ({"depth": [1, 2]}, ValueError, "unknown parameter.*depth"),
        ({"n_layers": [3, 1]}, ValueError, "n_layers low 3 is above high 1"),
        ({"n_layers": [1.5, 2]}, TypeError, "n_layers bounds must be integers"),
        ({"learning_rate": [0.0, 0.1]}, ValueError, "learning_rate"),
        ({"weight_decay": [0.0, 0.1]}, ValueError, "log scale"),
        ({"dropout_rate": [0.0, 1.0]}, ValueError, "dropout_rate"),
        ({"optimizer": ["adam", "lbfgs"]}, ValueError, "optimizer='lbfgs' is not allowed"),
        ({"init_method": []}, ValueError, "at least one choice"),
        ({"batch_size": [0]}, ValueError, "batch_size"),
        ({"batch_norm": ["yes"]}, ValueError, "batch_norm"),
    ],
)
def test_space_rejects_bad_ranges(values, error, match):
    with pytest.raises(error, match=match):
        SearchSpace.from_dict(values)


def test_space_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        SearchSpace.from_file(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(TypeError, match="mapping"):
        SearchSpace.from_file(bad)


# --- the objective ---------------------------------------------------------------------------


def test_objective_scores_validation_accuracy_and_never_touches_test(iris):
    blind = dataclasses.replace(iris, X_test=None, y_test=None)  # any use of the test split would raise
    study = _study()
    objective = Objective(blind, SMALL, epochs=6, report_every=2)
    study.optimize(objective, n_trials=3)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for trial in study.trials:
        config = RunConfig().replace(**SMALL.suggest(optuna.trial.FixedTrial(trial.params)))
        assert objective.config(optuna.trial.FixedTrial(trial.params)) == config.replace(epochs=6)
        _, trainer, _ = config.build(iris.n_features, config.n_outputs(iris.n_classes))
        history = trainer.fit(iris.X_train, iris.y_train, validation_data=(iris.X_val, iris.y_val), epochs=6)
        assert trial.value == max(history.val_accuracy)
        assert history.val_accuracy[trial.user_attrs["best_epoch"] - 1] == trial.value
        assert sorted(trial.intermediate_values) == [2, 4, 6]  # reported every 2 epochs for the pruners
        assert trial.user_attrs["pid"] == os.getpid()


def test_diverging_trial_is_pruned_with_its_reason(iris):
    space = SearchSpace.from_dict(
        {**_fixed(GOOD), "optimizer": "sgd", "clip_type": "none", "init_method": "random"}
    )
    study = _study()
    huge = dataclasses.replace(space, learning_rate=(1e6, 1e6))
    # no DivergenceWarning escapes the objective (pytest turns it into an error here)
    study.optimize(Objective(iris, huge, epochs=5), n_trials=1)
    study.optimize(Objective(iris, space, epochs=3), n_trials=1)  # the study goes on
    diverged, fine = study.trials
    assert diverged.state == TrialState.PRUNED
    assert diverged.user_attrs["reason"].startswith("diverged at epoch")
    assert fine.state == TrialState.COMPLETE


def test_raising_trial_fails_with_its_reason_and_the_study_goes_on(iris, monkeypatch):
    real, calls = RunConfig.build, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of device memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(RunConfig, "build", flaky)
    study = _study()
    study.optimize(Objective(iris, SMALL, epochs=2), n_trials=3, catch=(Exception,))
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[1].user_attrs["reason"] == "RuntimeError: out of device memory"


@pytest.mark.parametrize("pruner", ["median", "successive_halving", "hyperband"])
def test_pruners_stop_poor_trials_early(iris, pruner):
    study = _study(tuning.make_pruner(pruner, epochs=8, report_every=1))
    for _ in range(5):
        study.enqueue_trial(GOOD)
    for _ in range(4):  # zero weights never break symmetry: stuck near chance
        study.enqueue_trial({**GOOD, "init_method": "zeros", "learning_rate": 0.001, "optimizer": "momentum"})
    study.optimize(Objective(iris, SMALL.from_dict({"init_method": ["he_normal", "zeros"], "learning_rate": [1e-3, 0.1]},
                                                   base=SMALL), epochs=8, report_every=1), n_trials=9)  # fmt: skip
    good, poor = study.trials[:5], study.trials[5:]
    assert all(t.state == TrialState.COMPLETE and t.value > 0.8 for t in good)
    pruned = [t for t in poor if t.state == TrialState.PRUNED]
    assert pruned, [(t.state, t.intermediate_values) for t in poor]
    for t in pruned:
        assert max(t.intermediate_values) < 8 and t.user_attrs["reason"].startswith("pruned at epoch")


def test_make_pruner_and_storage_reject_unknown_names():
    with pytest.raises(ValueError, match="pruner='asha' is unknown"):
        tuning.make_pruner("asha", 10, 1)
    with pytest.raises(ValueError, match="storage='study.db' is not understood"):
        tuning.open_storage("study.db")
    with pytest.raises(ValueError, match="journal:"):
        tuning.open_storage("journal:")
    with pytest.raises(ValueError, match="n_jobs=0"):
        tuning.tune(dataset="iris", n_trials=1, n_jobs=0)
    with pytest.raises(ValueError, match="val_size"):
        tuning.TuneSettings(dataset="iris", val_size=0.0)


def test_tuning_never_imports_the_command_line():
    code = (
        "import sys, optuna; optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
        "from xpnet.tune import tune\n"
        "study = tune(dataset='iris', n_trials=1, epochs=1)\n"
        "assert len(study.trials) == 1 and 'xpnet.cli' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _fixed(params):
    space = {k: v for k, v in params.items() if not k.startswith("hidden_size_")}
    return {**space, "hidden_size": params["hidden_size_0"]}


# --- the command line ------------------------------------------------------------------------


def test_tune_twice_on_sqlite_leaves_12_finished_trials(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["tune", "--trials", "6", "--epochs", "2", "--dataset", "iris", "--storage", storage,
            "--study-name", "resume", "--json"]  # fmt: skip
    for expected in (6, 12):
        assert main(args) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["n_complete"] + result["n_pruned"] + result["n_failed"] == expected
        assert result["n_trials"] == expected and result["n_complete"] >= 1
    study = optuna.load_study(study_name="resume", storage=storage)
    assert len(_finished(study)) == 12
    assert result["best_value"] == study.best_value and result["best_params"] == study.best_params


def test_tune_progress_retrain_export_plots_and_train_config(tmp_path, capsys):
    best, plots = tmp_path / "best.json", tmp_path / "plots"
    code = main(["tune", "--trials", "5", "--epochs", "6", "--dataset", "iris", "--pruner", "none", "--retrain",
                 "--export", str(best), "--plot-dir", str(plots)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("trial ") for line in out.splitlines()) == 5  # one progress line per trial
    assert "best validation accuracy" in out and "best params: n_layers=" in out and "test accuracy" in out
    assert sorted(p.name for p in plots.iterdir()) == [
        "optimization_history.png", "parallel_coordinate.png", "param_importances.png",
    ]  # fmt: skip
    config = json.loads(best.read_text())
    assert {"hidden", "dropout", "lr", "optimizer", "init", "batch_size", "activation", "epochs"} <= set(
        config
    )
    # the file is the best run's RunConfig JSON plus the data split the search scored on
    split = {"dataset": "iris", "val_size": 0.1, "test_size": 0.2}
    run = RunConfig.from_dict({k: v for k, v in config.items() if k not in split})
    assert config == {**json.loads(run.to_json()), **split}
    # the exported configuration reproduces the best trial's validation accuracy under `xpnet train`
    with tuning.blas_threads(1):  # the same summation order as the trials, so the same numbers
        assert main(["train", "--config", str(best), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    best_value = float(out.split("best validation accuracy ")[1].split()[0])
    assert trained["val_accuracy"] == pytest.approx(best_value, abs=1e-4)
    assert trained["epochs"] == config["epochs"] and trained["layers"][1:-1] == config["hidden"]


def test_tune_json_retrain_reports_test_accuracy(tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SMALL.to_dict()))
    assert main(["tune", "--trials", "3", "--epochs", "4", "--dataset", "iris", "--space", str(space),
                 "--retrain", "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # one object on stdout; progress lines go to stderr
    assert {"best_value", "best_params", "n_complete", "n_pruned", "n_failed"} <= set(result)
    assert result["n_complete"] + result["n_pruned"] + result["n_failed"] == 3
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["retrain"]["n_train"] == 120
    assert result["best_params"]["n_layers"] in (1, 2) and captured.err.count("trial ") >= 3


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--trials", "0"], "--trials=0"),
        (["--n-jobs", "0"], "--n-jobs=0"),
        (["--epochs", "0"], "epochs=0"),
        (["--storage", "nowhere"], "storage='nowhere' is not understood"),
        (["--val-size", "0"], "val_size"),
        (["--timeout", "-1"], "timeout"),
    ],
)
def test_tune_reports_bad_input(flags, match, capsys):
    assert main(["tune", "--dataset", "iris", *flags]) == 2
    assert match in capsys.readouterr().err


def test_tune_unavailable_backend_fails_before_any_trial(capsys):
    import importlib.util

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed here; this checks the error where it is not")
    assert main(["tune", "--dataset", "iris", "--backend", "cupy", "--n-jobs", "2", "--trials", "2"]) == 2
    assert 'pip install "xpnet[cuda12]"' in capsys.readouterr().err


def test_tune_space_file_with_unknown_key(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("layers: [1, 2]\n")
    assert main(["tune", "--dataset", "iris", "--space", str(space)]) == 2
    assert "unknown parameter(s) layers" in capsys.readouterr().err


# --- worker processes and shared storages ----------------------------------------------------


def _pids(study):
    return {t.user_attrs["pid"] for t in study.trials}


def test_two_worker_processes_share_one_journal_file_study(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    proc = _xpnet("tune", "--n-jobs", "2", "--trials", "6", "--epochs", "3", "--dataset", "iris", "--storage", storage,
                  "--study-name", "shared", "--json")  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["n_trials"] == 6 and "[worker 1] trial" in err and "[worker 0] trial" in err
    study = optuna.load_study(study_name="shared", storage=tuning.open_storage(storage))
    assert len(_finished(study)) == 6 and len(_pids(study)) == 2 and os.getpid() not in _pids(study)


def test_in_memory_study_with_two_workers_uses_a_temporary_journal():
    study = tuning.tune(dataset="iris", space=SMALL, epochs=2, n_trials=4, n_jobs=2)
    assert len(_finished(study)) == 4 and len(_pids(study)) == 2
    assert isinstance(study._storage, optuna.storages.InMemoryStorage)  # a copy; the temporary file is gone


def test_killed_worker_loses_no_finished_trial(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    flags = ["--epochs", "4", "--dataset", "iris", "--storage", storage, "--study-name", "crash", "--json"]
    proc = _xpnet("tune", "--trials", "500", *flags)
    try:
        deadline, finished = time.monotonic() + 60, {}
        while len(finished) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            if os.path.exists(tmp_path / "study.log"):
                try:
                    finished = _finished(
                        optuna.load_study(study_name="crash", storage=tuning.open_storage(storage))
                    )
                except KeyError:  # the study is not created yet
                    pass
        assert len(finished) >= 3, proc.stderr.read() if proc.poll() is not None else "too slow"
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-study, no clean-up of any kind
        proc.communicate()
    before = _finished(optuna.load_study(study_name="crash", storage=tuning.open_storage(storage)))
    resumed = _xpnet("tune", "--trials", "2", *flags)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    after = _finished(optuna.load_study(study_name="crash", storage=tuning.open_storage(storage)))
    assert len(after) == len(before) + 2
    for number, trial in before.items():  # every trial finished before the kill is still there, unchanged
        assert after[number].state == trial.state and after[number].value == trial.value
        assert after[number].params == trial.params
    assert json.loads(out)["n_trials"] >= len(after)


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_bindir():
    for bindir in sorted(glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{bindir}/initdb") and os.path.exists(f"{bindir}/pg_ctl"):
            return bindir
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb and shutil.which("pg_ctl") else None


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster on a free loopback port, run as `postgres` when we are root."""
    pytest.importorskip(  # the driver SQLAlchemy 2.1 picks for postgresql://, as the postgres extra installs
        "psycopg", reason='psycopg 3 (pip install "xpnet[postgres]") is needed for PostgreSQL storage'
    )
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install them with apt-get install postgresql"
        )
    user = {}
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the PostgreSQL server as")
        user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    root = tempfile.mkdtemp(prefix="xpnet-pg-")
    if user:
        os.chown(root, user["user"], user["group"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    run = dict(cwd=root, check=True, capture_output=True, text=True, **user)
    try:
        subprocess.run(
            [f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"], **run
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        subprocess.run(
            [f"{bindir}/pg_ctl", "-D", data, "-l", f"{root}/server.log", "-o", options, "-w", "start"], **run
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc.stdout}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"  # the README's form of URL
    finally:
        subprocess.run([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], **{**run, "check": False})
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_a_postgresql_study(postgres_url):
    flags = ["--trials", "3", "--epochs", "3", "--dataset", "iris", "--storage", postgres_url, "--study-name", "pg",
             "--json"]  # fmt: skip
    workers = [_xpnet("tune", *flags) for _ in range(2)]  # as if on two hosts
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    study = optuna.load_study(study_name="pg", storage=postgres_url)
    assert len(_finished(study)) == 6 and len(_pids(study)) == 2
    assert max(json.loads(out)["n_trials"] for out, _ in outputs) == 6  # the second to finish saw all six


def test_resuming_with_different_choices_is_refused_before_any_trial(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    base = ["tune", "--trials", "1", "--epochs", "1", "--dataset", "iris", "--storage", storage, "--json"]
    assert main(base) == 0
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"optimizer": ["adam"]}))
    assert main([*base, "--space", str(space)]) == 2
    assert "searched optimizer over" in capsys.readouterr().err
    assert len(optuna.load_study(study_name="xpnet-iris", storage=storage).trials) == 1


def test_blas_threads_limits_the_pools_inside_and_restores_them():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
    with tuning.blas_threads(1):
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info())
    assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == before
    with pytest.raises(ValueError, match="threads=0"):
        tuning.TuneSettings(dataset="iris", threads=0)
