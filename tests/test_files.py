"""Reading your own data: xpnet.data.load_file and split_table."""

from __future__ import annotations

import numpy as np
import pytest

from xpnet import data, tabular


def _csv(path, text):
    path.write_text(text)
    return path


def test_csv_string_labels_last_column(tmp_path):
    f = _csv(tmp_path / "a.csv", "w,h,kind\n1,2,cat\n3,4.5,dog\n5,6,cat\n")
    t = data.load_file(f)
    np.testing.assert_array_equal(t.X, [[1, 2], [3, 4.5], [5, 6]])
    assert t.X.dtype == np.float64
    assert t.classes == ["cat", "dog"] and t.task == "classification" and t.target == "kind"
    np.testing.assert_array_equal(t.y, [0, 1, 0])
    assert t.feature_names == ["w", "h"]


def test_csv_target_by_name_and_integer_labels(tmp_path):
    f = _csv(tmp_path / "a.csv", "label,a,b\n3,0.5,1\n7,1.5,2\n3,2.5,3\n")
    t = data.load_file(f, target="label")
    assert t.classes == [3, 7] and t.feature_names == ["a", "b"]
    np.testing.assert_array_equal(t.y, [0, 1, 0])


def test_task_inferred_and_overridden(tmp_path):
    rows = "\n".join(f"{i},{i * 0.37:.3f}" for i in range(40))
    f = _csv(tmp_path / "r.csv", "x,y\n" + rows + "\n")
    t = data.load_file(f)
    assert t.task == "regression" and t.classes is None and t.y.dtype == np.float64
    f2 = _csv(tmp_path / "c.csv", "x,y\n" + "\n".join(f"{i},{i % 3}" for i in range(40)) + "\n")
    assert data.load_file(f2).task == "classification"
    assert data.load_file(f2, task="regression").task == "regression"
    with pytest.raises(ValueError, match="task="):
        data.load_file(f2, task="ranking")


def test_bad_cell_names_row_and_column(tmp_path):
    f = _csv(tmp_path / "bad.csv", "a,b,y\n1,2,x\n\n3,oops,y\n")
    with pytest.raises(ValueError, match=r"row 4, column 'b': 'oops' is not a number"):
        data.load_file(f)
    f = _csv(tmp_path / "empty.csv", "a,b,y\n1,,x\n")
    with pytest.raises(ValueError, match=r"row 2, column 'b': an empty cell"):
        data.load_file(f)
    f = _csv(tmp_path / "ragged.csv", "a,b,y\n1,2\n")
    with pytest.raises(ValueError, match=r"row 2 has 2 cells"):
        data.load_file(f)
    with pytest.raises(ValueError, match="target='nope' is not a column"):
        data.load_file(_csv(tmp_path / "ok.csv", "a,y\n1,2\n"), target="nope")


def test_npz_and_npy(tmp_path):
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    t = data.load_file(tmp_path / "d.npz")
    np.testing.assert_array_equal(t.X, X)
    np.testing.assert_array_equal(t.y, y)
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    t = data.load_file(tmp_path / "d.npy")
    np.testing.assert_array_equal(t.X, X)
    assert t.classes == [0, 1, 2]


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (optional)")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "y": ["u", "v", "u"]}), tmp_path / "d.parquet")
    t = data.load_file(tmp_path / "d.parquet")
    assert t.classes == ["u", "v"]
    np.testing.assert_array_equal(t.X[:, 0], [1, 2, 3])


def test_too_large_for_memory_refused_before_reading(tmp_path, monkeypatch):
    f = _csv(tmp_path / "a.csv", "a,y\n1,2\n")
    monkeypatch.setattr(tabular, "available_memory", lambda: 10)
    with pytest.raises(MemoryError, match="MiB of memory is available"):
        data.load_file(f)


def test_split_table_scales_on_train_and_keeps_preprocessor(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(100, 3))
    labels = np.where(X[:, 0] > 5, "hi", "lo")
    lines = [f"{a},{b},{c},{lab}" for (a, b, c), lab in zip(X, labels, strict=True)]
    f = _csv(tmp_path / "a.csv", "a,b,c,level\n" + "\n".join(lines) + "\n")
    ds = data.split_table(data.load_file(f), "a", test_size=0.2, val_size=0.1)
    pre = ds.preprocessor
    assert pre.classes == ["hi", "lo"] and pre.feature_names == ["a", "b", "c"]
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    assert ds.n_classes == 2 and len(ds.y_test) == 20


def test_bundled_dataset_preprocessor_reproduces_scaling():
    ds = data.load_dataset("iris", seed=0)
    raw, _ = data.load_raw("iris")
    # the scaled test split is the preprocessor applied to the raw rows
    scaled = ds.preprocessor.transform(raw)
    hits = [np.any(np.all(np.isclose(scaled, row, rtol=0, atol=0), axis=1)) for row in ds.X_test]
    assert all(hits)
    assert ds.preprocessor.classes == [0, 1, 2]
