"""Property-based checks: every input either works or raises a clear error.

Over shapes, dtypes (float16/32/64, integers, bool), containers (ndarray,
pandas, memmap, non-contiguous views) and label patterns, each estimator must
either fit and give finite outputs of the right shape and dtype, or raise a
scikit-learn-style ValueError / TypeError raised by skaae or scikit-learn,
never an error from inside torch, and never silently change the input.
"""

import traceback

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from skaae import AAEClassifier, AAEClusterer, AAETransformer  # noqa: E402

TINY = dict(hidden_layer_sizes=(8,), discriminator_hidden_layer_sizes=(8,), max_iter=1,
            batch_size=8, random_state=0)
DTYPES = ["float16", "float32", "float64", "int8", "int64", "uint8", "bool"]
CONTAINERS = ["ndarray", "fortran", "strided", "memmap", "dataframe"]
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def tables(draw):
    """A small table: its values, dtype and container."""
    n_samples = draw(st.integers(1, 24))
    n_features = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from(DTYPES))
    if dtype == "bool":
        values = draw(st.lists(st.booleans(), min_size=n_samples * n_features,
                               max_size=n_samples * n_features))
    elif dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        values = draw(st.lists(st.integers(max(info.min, -100), min(info.max, 100)),
                               min_size=n_samples * n_features, max_size=n_samples * n_features))
    else:
        special = draw(st.sampled_from(["finite", "finite", "finite", "nan", "inf"]))
        values = draw(st.lists(st.floats(-1e3, 1e3, width=16 if dtype == "float16" else 32),
                               min_size=n_samples * n_features, max_size=n_samples * n_features))
        if special != "finite":
            values[draw(st.integers(0, len(values) - 1))] = np.nan if special == "nan" else np.inf
    X = np.asarray(values, dtype=dtype).reshape(n_samples, n_features)
    return X, draw(st.sampled_from(CONTAINERS))


def wrap(X, container, tmp_path):
    """``X`` in the given container (a copy, so the original can be compared after)."""
    if container == "fortran":
        return np.asfortranarray(X)
    if container == "strided":
        wide = np.repeat(X, 2, axis=1)
        return wide[:, ::2]  # non-contiguous view holding X's values
    if container == "memmap":
        path = tmp_path / f"x_{X.dtype}_{X.shape[0]}_{X.shape[1]}.dat"
        memmap = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
        memmap[:] = X
        return memmap
    if container == "dataframe":
        pd = pytest.importorskip("pandas")
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    return X.copy()


def assert_clear_error(exc):
    """A ValueError or TypeError that torch did not raise."""
    assert isinstance(exc, (ValueError, TypeError)), repr(exc)
    innermost = traceback.extract_tb(exc.__traceback__)[-1].filename
    assert "/torch/" not in innermost.replace("\\", "/"), (repr(exc), innermost)


def check_estimator_on(estimator, X_in, y=None):
    snapshot = np.array(X_in, copy=True)
    try:
        estimator.fit(X_in, y)
    except Exception as exc:  # noqa: BLE001 - the property is about which errors
        assert_clear_error(exc)
        event(f"raised {type(exc).__name__}")
        return None
    event("fitted")
    # The input is never changed, whatever it was.
    np.testing.assert_array_equal(np.asarray(X_in), snapshot)
    Z = estimator.transform(X_in)
    Z = np.asarray(Z)
    assert Z.shape == (len(snapshot), estimator.n_components)
    assert Z.dtype in (np.float32, np.float64) and np.isfinite(Z).all()
    return Z


@SETTINGS
@given(table=tables())
def test_transformer_works_or_raises_clearly(table, tmp_path):
    X, container = table
    X_in = wrap(X, container, tmp_path)
    Z = check_estimator_on(AAETransformer(**TINY), X_in)
    if Z is not None:
        # What was accepted had no NaN or infinity, and float32 stays float32.
        assert np.isfinite(X.astype(np.float64)).all()
        assert Z.dtype == (np.float32 if X.dtype == np.float32 else np.float64)


@SETTINGS
@given(table=tables())
def test_clusterer_works_or_raises_clearly(table, tmp_path):
    X, container = table
    # The re-cut works on the rows as validated, and costs a second of maps each
    # table; tests/test_refinement.py and tests/test_cluster.py cover it.
    estimator = AAEClusterer(n_clusters=3, refine_clusters=False, **TINY)
    if check_estimator_on(estimator, wrap(X, container, tmp_path)) is not None:
        assert len(estimator.labels_) == len(X)
        assert set(estimator.labels_) == set(range(estimator.n_clusters_))


@st.composite
def label_patterns(draw, n_samples):
    kind = draw(st.sampled_from(["ints", "strings", "some_unlabeled", "all_unlabeled",
                                 "one_labeled", "floats", "objects_with_none"]))
    if kind == "strings":
        return np.array(draw(st.lists(st.sampled_from(["cat", "dog", "eel"]),
                                      min_size=n_samples, max_size=n_samples)))
    if kind == "floats":
        return np.array(draw(st.lists(st.sampled_from([0.0, 1.5, -1.0]),
                                      min_size=n_samples, max_size=n_samples)))
    if kind == "objects_with_none":
        y = np.array(["a"] * n_samples, dtype=object)
        y[draw(st.integers(0, n_samples - 1))] = None
        return y
    y = np.array(draw(st.lists(st.integers(0, 3), min_size=n_samples, max_size=n_samples)))
    if kind == "some_unlabeled":
        y[::2] = -1
    elif kind == "all_unlabeled":
        y[:] = -1
    elif kind == "one_labeled":
        y[:] = -1
        y[0] = 2
    return y


@SETTINGS
@given(data=st.data())
def test_classifier_works_or_raises_clearly(data, tmp_path):
    X, container = data.draw(tables())
    y = data.draw(label_patterns(len(X)))
    estimator = AAEClassifier(n_components=2, **TINY)
    try:
        estimator.fit(wrap(X, container, tmp_path), y)
    except Exception as exc:  # noqa: BLE001
        assert_clear_error(exc)
        event(f"raised {type(exc).__name__}")
        return
    event("fitted")
    labeled = y[y != -1] if y.dtype.kind in "iuf" else y
    assert set(estimator.classes_.tolist()) == set(labeled.tolist())
    proba = estimator.predict_proba(wrap(X, container, tmp_path))
    assert proba.shape == (len(X), len(estimator.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(estimator.predict(X)) <= set(estimator.classes_)

