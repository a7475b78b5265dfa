"""Golden outputs: every estimator and latent layout gives exactly what it gave before.

Each case fits an estimator on the digits with a fixed seed and records what
the fitted model returns (``transform``, ``predict``, ``predict_proba``,
``sample``, ``inverse_transform``, ``history_``). The values in
``golden_outputs.npz`` were recorded from the code before the engine was
restructured; a refactoring must reproduce them bit for bit on the CPU.

Floating-point results depend on the CPU's vector instructions, torch's
version and its thread count, so exact equality is asserted where those match
the recording and the cases skip elsewhere.

Regenerate (only when a change of behaviour is intended, and say so in the
commit) with ``python tests/test_golden.py``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skaae import AAEClassifier, AAEClusterer, AAETransformer
from skaae.priors import GaussianMixturePrior

GOLDEN_PATH = Path(__file__).with_name("golden_outputs.npz")

#: Small networks and a few epochs: each case fits in about a second.
SMALL = dict(
    hidden_layer_sizes=(32, 32),
    discriminator_hidden_layer_sizes=(32,),
    max_iter=3,
    device="cpu",
    random_state=0,
)


#: AAETransformer's defaults when the outputs were recorded: its cases pin them, so
#: that a change of default is not a change of the recorded model.
RECORDED_TRANSFORMER_DEFAULTS = dict(
    n_cluster_heads=None,
    cluster_head_assignment="soft",
    category_consistency=0.0,
    neighbor_weight=0.0,
    neighbor_agreement=0.0,
    n_neighbor_samples=4,
    input_noise=0.0,
    input_components=None,
    batch_size=128,
    max_iter=50,
    learning_rate=1e-3,
    discriminator_learning_rate=1e-3,
    generator_learning_rate=1e-3,
)


#: AAEClassifier's defaults when its outputs were recorded, pinned likewise.
RECORDED_CLASSIFIER_DEFAULTS = dict(
    category_consistency=0.0,
    neighbor_agreement=0.0,
    learning_rate_decay=0.95,
    **SMALL,
)


#: AAEClusterer's defaults when its outputs were recorded, pinned likewise.
RECORDED_CLUSTERER_DEFAULTS = dict(
    category_balance=5.0, neighbor_agreement=0.0, refine_clusters=False, **SMALL
)


def _transformer(**params):
    """An AAETransformer with the recorded defaults under ``params``."""
    return AAETransformer(**{**RECORDED_TRANSFORMER_DEFAULTS, **params})


def _environment():
    return np.array([
        torch.__version__,
        torch.backends.cpu.get_cpu_capability(),
        str(torch.get_num_threads()),
    ])


def _digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0, stratify=y
    )
    # 100 labeled rows, the rest unlabeled (-1), as in scikit-learn's convention.
    y_partial = np.full_like(y_train, -1)
    y_partial[:100] = y_train[:100]
    return X_train, X_test[:200], y_train, y_partial


def _history(estimator):
    return {f"history.{phase}": np.array(losses) for phase, losses in estimator.history_.items()}


def transformer_z(X, X_test, y, y_partial):
    aae = _transformer(n_components=2, **SMALL).fit(X)
    Z = aae.transform(X_test)
    return {
        "transform": Z,
        "inverse_transform": aae.inverse_transform(Z[:10]),
        "sample": aae.sample(10, random_state=1),
        **_history(aae),
    }


def transformer_label_guided(X, X_test, y, y_partial):
    aae = _transformer(
        n_components=2, prior=GaussianMixturePrior(n_components=10), **SMALL
    ).fit(X, y_partial)
    return {
        "transform": aae.transform(X_test),
        "sample": aae.sample(10, y=np.arange(10), random_state=1),
        **_history(aae),
    }


def transformer_gaussian_encoder_schedules(X, X_test, y, y_partial):
    aae = _transformer(
        n_components=3, encoder="gaussian", ema_decay=0.99, learning_rate_decay=0.9,
        early_stopping=True, n_iter_no_change=2, prior="uniform",
        **{**SMALL, "max_iter": 5},
    ).fit(X)
    return {
        "transform": aae.transform(X_test),
        "validation_scores": np.array(aae.validation_scores_),
        **_history(aae),
    }


def transformer_universal_bce_bfloat16(X, X_test, y, y_partial):
    aae = _transformer(
        n_components=2, encoder="universal", reconstruction_loss="bce", prior="swiss_roll",
        precision="bfloat16", batch_size=64, **SMALL,
    ).fit(X, y_partial)
    return {
        "transform": aae.transform(X_test),
        "sample": aae.sample(10, random_state=1),
        **_history(aae),
    }


def transformer_cluster_head_map(X, X_test, y, y_partial):
    aae = _transformer(
        n_components=2, n_cluster_heads=5, category_consistency=5.0, neighbor_weight=1.0,
        n_neighbor_samples=2, **SMALL,
    ).fit(X)
    Z = aae.transform(X_test)
    return {
        "transform": Z,
        "inverse_transform": aae.inverse_transform(Z[:10]),
        "sample": aae.sample(10, random_state=1),
        "cluster_heads": aae.cluster_heads_,
        **_history(aae),
    }


def transformer_cluster_heads_semi_supervised(X, X_test, y, y_partial):
    aae = _transformer(n_components=2, n_cluster_heads=10, **SMALL).fit(X, y_partial)
    return {
        "transform": aae.transform(X_test),
        "sample": aae.sample(10, y=np.arange(10), random_state=1),
        "cluster_heads": aae.cluster_heads_,
        **_history(aae),
    }


def transformer_fixed_cluster_heads(X, X_test, y, y_partial):
    aae = _transformer(
        n_components=4, n_cluster_heads=4, fixed_cluster_heads=5 * np.eye(4), **SMALL
    ).fit(X)
    return {"transform": aae.transform(X_test), **_history(aae)}


def transformer_warm_start_partial_fit(X, X_test, y, y_partial):
    aae = _transformer(n_components=2, warm_start=True, **{**SMALL, "max_iter": 2})
    aae.fit(X).fit(X)
    aae.partial_fit(X[:600])
    stream = _transformer(n_components=2, **SMALL)
    stream.partial_fit(X[:600]).partial_fit(X[600:])
    return {
        "transform": aae.transform(X_test),
        "stream_transform": stream.transform(X_test),
        **_history(aae),
    }


def classifier(X, X_test, y, y_partial):
    clf = AAEClassifier(**RECORDED_CLASSIFIER_DEFAULTS).fit(X, y_partial)
    Z = clf.transform(X_test)
    return {
        "predict": clf.predict(X_test),
        "predict_proba": clf.predict_proba(X_test),
        "transform": Z,
        "inverse_transform": clf.inverse_transform(Z[:10], np.arange(10)),
        "sample": clf.sample(10, y=np.arange(10), random_state=1),
        **_history(clf),
    }


def classifier_consistency_early_stopping(X, X_test, y, y_partial):
    clf = AAEClassifier(**{
        **RECORDED_CLASSIFIER_DEFAULTS, "category_consistency": 2.0, "consistency_radius": 0.2,
        "early_stopping": True,
        "n_iter_no_change": 2, "validation_fraction": 0.2, "ema_decay": None, "max_iter": 5,
    }).fit(X, y_partial)
    return {
        "predict_proba": clf.predict_proba(X_test),
        "validation_scores": np.array(clf.validation_scores_),
        **_history(clf),
    }


def classifier_partial_fit(X, X_test, y, y_partial):
    clf = AAEClassifier(**RECORDED_CLASSIFIER_DEFAULTS)
    clf.partial_fit(X[:600], y_partial[:600], classes=np.arange(10))
    clf.partial_fit(X[600:], np.full(len(X) - 600, -1))  # an all-unlabeled chunk
    return {"predict_proba": clf.predict_proba(X_test), **_history(clf)}


def clusterer(X, X_test, y, y_partial):
    km = AAEClusterer(n_clusters=10, **RECORDED_CLUSTERER_DEFAULTS).fit(X)
    return {
        "labels": km.labels_,
        "predict": km.predict(X_test),
        "predict_proba": km.predict_proba(X_test),
        "transform": km.transform(X_test),
        "cluster_heads": km.cluster_heads(),
        "sample": km.sample(10, random_state=1),
        **_history(km),
    }


def clusterer_sparse_partial_fit(X, X_test, y, y_partial):
    km = AAEClusterer(n_clusters=6, input_noise=0.2, **RECORDED_CLUSTERER_DEFAULTS)
    km.partial_fit(sp.csr_matrix(X[:600])).partial_fit(sp.csr_matrix(X[600:]))
    return {"predict_proba": km.predict_proba(X_test), **_history(km)}


CASES = [
    transformer_z,
    transformer_label_guided,
    transformer_gaussian_encoder_schedules,
    transformer_universal_bce_bfloat16,
    transformer_cluster_head_map,
    transformer_cluster_heads_semi_supervised,
    transformer_fixed_cluster_heads,
    transformer_warm_start_partial_fit,
    classifier,
    classifier_consistency_early_stopping,
    classifier_partial_fit,
    clusterer,
    clusterer_sparse_partial_fit,
]


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN_PATH) as stored:
        values = dict(stored)
    recorded = values.pop("environment")
    if not np.array_equal(recorded, _environment()):
        pytest.skip(
            f"golden outputs were recorded with torch, CPU capability and threads "
            f"{recorded.tolist()}; this is {_environment().tolist()}"
        )
    return values


@pytest.fixture(scope="module")
def digits():
    return _digits()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_golden_outputs(case, golden, digits):
    expected = {
        key.split("/", 1)[1]: value
        for key, value in golden.items()
        if key.split("/", 1)[0] == case.__name__
    }
    outputs = case(*digits)
    assert sorted(outputs) == sorted(expected)
    for name, value in outputs.items():
        np.testing.assert_array_equal(np.asarray(value), expected[name], err_msg=name)


def _record():
    digits = _digits()
    values = {"environment": _environment()}
    for case in CASES:
        for name, value in case(*digits).items():
            values[f"{case.__name__}/{name}"] = np.asarray(value)
    np.savez_compressed(GOLDEN_PATH, **values)
    print(f"wrote {len(values)} arrays to {GOLDEN_PATH}")


if __name__ == "__main__":
    sys.exit(_record())
