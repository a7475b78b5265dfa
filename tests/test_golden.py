"""Golden outputs: every estimator and latent layout gives exactly what it gave before.

Each case fits an estimator on the digits with a fixed seed and records what
the fitted model returns (``transform``, ``predict``, ``predict_proba``,
``sample``, ``inverse_transform``, ``history_``). The values in
``golden_outputs.npz`` were recorded from the code before the engine was
restructured; a refactoring must reproduce them bit for bit on the CPU.

Floating-point results depend on the CPU's vector instructions, torch's
version and its thread count, so the cases skip where those differ from the
recording. They also depend on how MKL blocks a product, which follows the
CPU's caches: two machines with the same vector path can round the same fit
differently. Such a machine gets its own recording,
``golden_outputs_<probe>.npz``, named by a digest of a few products shaped as
the cases' (:func:`_arithmetic_probe`); a case passes when its outputs equal,
bit for bit, its machine's recording or the first one (whose machine's probe
was not kept). Machines whose float32 products round alike can still round
bfloat16 ones differently (with or without the CPU's own bfloat16 units), so
the bfloat16 cases are recorded in
``golden_outputs_<probe>_bfloat16_<bfloat16 probe>.npz``
(:func:`_bfloat16_probe`) instead, and skip where no recording has them
(the older files hold them too, from their own machines).

Record this machine's outputs with ``python tests/test_golden.py``; it
replaces the cases' entries in this machine's files and keeps the rest. When
a change of behaviour is intended (say so in the commit), record them and
delete the other machines' files, which hold the old behaviour.
"""

import hashlib
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

#: The first recording, from a machine whose arithmetic probe was not kept.
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
    cluster_head_layout="learned",
    refine_cluster_heads=False,
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
    neighbor_vote=0.0,
    learning_rate_decay=0.95,
    **SMALL,
)


#: AAEClusterer's defaults when its outputs were recorded, pinned likewise.
RECORDED_CLUSTERER_DEFAULTS = dict(
    category_balance=5.0, neighbor_agreement=0.0, refine_clusters=False,
    neighbor_vote=0.0, **SMALL
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


def _arithmetic_probe():
    """A digest of float32 products shaped as the cases' (training batches, the
    held-out rows, every training row): machines that round them alike round the
    cases alike."""
    generator = torch.Generator().manual_seed(0)
    digest = hashlib.sha256()
    for rows in (128, 200, 1257):
        for width in (32, 256):
            h = torch.rand(rows, 64, generator=generator)
            for out in (width, width, 2):
                weight = torch.randn(out, h.shape[1], generator=generator)
                h = torch.relu(torch.nn.functional.linear(h, weight))
            digest.update(h.numpy().tobytes())
    return digest.hexdigest()[:12]


def _bfloat16_probe():
    """A digest of a bfloat16 product shaped as a training batch's."""
    generator = torch.Generator().manual_seed(0)
    h = torch.rand(64, 64, generator=generator).bfloat16()
    for out in (256, 256, 2):
        weight = torch.randn(out, h.shape[1], generator=generator).bfloat16()
        h = torch.relu(torch.nn.functional.linear(h, weight))
    return hashlib.sha256(h.float().numpy().tobytes()).hexdigest()[:12]


def _machine_golden_path():
    """This machine's own recording, named by its arithmetic probe."""
    return GOLDEN_PATH.with_name(f"golden_outputs_{_arithmetic_probe()}.npz")


def _bfloat16_golden_path():
    """This machine's recording of the bfloat16 cases, named by both probes."""
    return GOLDEN_PATH.with_name(
        f"golden_outputs_{_arithmetic_probe()}_bfloat16_{_bfloat16_probe()}.npz"
    )


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


def transformer_graph_head_layout(X, X_test, y, y_partial):
    aae = _transformer(
        n_components=2, n_cluster_heads=5, neighbor_weight=1.0, n_neighbor_samples=2,
        cluster_head_layout="graph", **SMALL,
    ).fit(X)
    return {"transform": aae.transform(X_test), "cluster_heads": aae.cluster_heads_}


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
    transformer_graph_head_layout,
    transformer_cluster_heads_semi_supervised,
    transformer_fixed_cluster_heads,
    transformer_warm_start_partial_fit,
    classifier,
    classifier_consistency_early_stopping,
    classifier_partial_fit,
    clusterer,
    clusterer_sparse_partial_fit,
]
#: The cases whose outputs also depend on how the CPU rounds bfloat16 products.
BFLOAT16_CASES = [transformer_universal_bce_bfloat16]


def _recordings(*paths):
    """The stored recordings among ``paths`` made with this machine's environment."""
    recordings = []
    for path in paths:
        if not path.exists():
            continue
        with np.load(path) as stored:
            values = dict(stored)
        if np.array_equal(values.pop("environment"), _environment()):
            recordings.append(values)
    return recordings


@pytest.fixture(scope="module")
def golden():
    """The recordings this machine's outputs may equal: its own, then the first;
    and its own of the bfloat16 cases."""
    recordings = _recordings(_machine_golden_path(), GOLDEN_PATH)
    if not recordings:
        pytest.skip(
            f"no golden outputs were recorded with this torch, CPU capability and "
            f"thread count ({_environment().tolist()})"
        )
    return {"general": recordings, "bfloat16": _recordings(_bfloat16_golden_path())}


def _case_recordings(recordings, case):
    """Each recording's entries for ``case``, without the case's prefix."""
    prefix = f"{case.__name__}/"
    found = [
        {key.removeprefix(prefix): value for key, value in recording.items()
         if key.startswith(prefix)}
        for recording in recordings
    ]
    return [recording for recording in found if recording]


@pytest.fixture(scope="module")
def digits():
    return _digits()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_golden_outputs(case, golden, digits):
    own_bfloat16 = _case_recordings(golden["bfloat16"], case)
    recordings = own_bfloat16 + _case_recordings(golden["general"], case)
    if not recordings:
        pytest.skip(f"{case.__name__} has no golden outputs for this machine")
    outputs = case(*digits)
    # The recording it equals, if any; otherwise its machine's own (or the first)
    # names the outputs that differ.
    expected = next((rec for rec in recordings if _equal(outputs, rec)), None)
    if expected is None and case in BFLOAT16_CASES and not own_bfloat16:
        pytest.skip(f"{case.__name__} has no golden outputs for this machine's "
                    f"bfloat16 rounding (probe {_bfloat16_probe()})")
    expected = expected or recordings[0]
    assert sorted(outputs) == sorted(expected)
    for name, value in outputs.items():
        np.testing.assert_array_equal(
            np.asarray(value), expected[name],
            err_msg=f"{name} (a machine that rounds otherwise needs its own recording)",
        )


def _equal(outputs, expected):
    return sorted(outputs) == sorted(expected) and all(
        np.array_equal(np.asarray(value), expected[name]) for name, value in outputs.items()
    )


def _record(names=()):
    """Record the cases named in ``names`` (all by default) into this machine's files."""
    digits = _digits()
    cases = [case for case in CASES if not names or case.__name__ in names]
    files = [(_machine_golden_path(), [case for case in cases if case not in BFLOAT16_CASES]),
             (_bfloat16_golden_path(), [case for case in cases if case in BFLOAT16_CASES])]
    for path, recorded in files:
        if not recorded:
            continue
        values = {}
        if path.exists():
            with np.load(path) as stored:
                values = dict(stored)
        values["environment"] = _environment()
        for case in recorded:
            values = {key: value for key, value in values.items()
                      if not key.startswith(f"{case.__name__}/")}
            for name, value in case(*digits).items():
                values[f"{case.__name__}/{name}"] = np.asarray(value)
        np.savez_compressed(path, **values)
        print(f"wrote {len(recorded)} cases to {path}")


if __name__ == "__main__":
    sys.exit(_record(sys.argv[1:]))
