"""The estimators on a CUDA GPU, at their defaults: skipped without one (CI has none).

On a GPU ``device="auto"`` trains there, so these tests fit the defaults and
hold them to what the same defaults do on the CPU.
"""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import adjusted_rand_score

from skaae import AAEClassifier, AAEClusterer, AAETransformer
from skaae._engine.trainer import autocast_dtype
from test_classifier import ten_labels_a_class
from test_transformer import knn_accuracy

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def map_accuracy(model, digits_split):
    """Held-out 5-NN accuracy of ``model``'s finite codes of the digits."""
    X_train, X_test, y_train, y_test = digits_split
    Z_train, Z_test = model.transform(X_train), model.transform(X_test)
    assert np.isfinite(Z_train).all() and np.isfinite(Z_test).all()
    return knn_accuracy(Z_train, y_train, Z_test, y_test)


@pytest.fixture(scope="module")
def gpu_map(digits_split):
    return AAETransformer(n_components=2, random_state=0).fit(digits_split[0])


def test_defaults_train_on_the_gpu_in_float32(gpu_map):
    assert gpu_map.device_.type == "cuda"
    assert autocast_dtype(gpu_map.precision) is None
    parameters = list(gpu_map.model_.parameters())
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in parameters)


def test_gpu_map_is_as_good_as_the_cpu_map(digits_split, gpu_map):
    cpu_map = AAETransformer(n_components=2, device="cpu", random_state=0).fit(digits_split[0])
    gpu_accuracy, cpu_accuracy = map_accuracy(gpu_map, digits_split), map_accuracy(
        cpu_map, digits_split)
    # The CPU's defaults reach 0.95-0.97 here; the GPU rounds differently.
    assert gpu_accuracy >= cpu_accuracy - 0.03, (gpu_accuracy, cpu_accuracy)
    # bfloat16 autocast, asked for, trains there too: its weights stay float32.
    bf16_map = AAETransformer(n_components=2, precision="bfloat16", random_state=0).fit(
        digits_split[0])
    assert all(p.dtype == torch.float32 for p in bf16_map.model_.parameters())
    assert map_accuracy(bf16_map, digits_split) >= cpu_accuracy - 0.05


def test_gpu_model_pickles_and_loads_on_the_cpu(digits_split, gpu_map):
    X_test = digits_split[1]
    Z_gpu = gpu_map.transform(X_test)
    restored = pickle.loads(pickle.dumps(gpu_map))
    assert restored.device_.type == "cuda"
    assert_allclose(restored.transform(X_test), Z_gpu, rtol=1e-5, atol=1e-5)
    # The weights travel device-free: the same model chosen onto the CPU at load time.
    state = gpu_map.__getstate__()
    state["device"] = "cpu"
    on_cpu = AAETransformer.__new__(AAETransformer)
    on_cpu.__setstate__(state)
    assert on_cpu.device_.type == "cpu"
    assert_allclose(on_cpu.transform(X_test), Z_gpu, rtol=1e-4, atol=1e-4)


def test_gpu_sample_inverse_transform_and_partial_fit(digits_split, gpu_map):
    X_train, X_test = digits_split[:2]
    X_new = gpu_map.sample(50, random_state=0)
    assert X_new.shape == (50, 64) and np.isfinite(X_new).all()
    X_back = gpu_map.inverse_transform(gpu_map.transform(X_test))
    # The decoder's reconstruction is closer to each row than the mean image is.
    error = ((X_back - X_test) ** 2).sum(axis=1).mean()
    baseline = ((X_train.mean(axis=0) - X_test) ** 2).sum(axis=1).mean()
    assert error < 0.8 * baseline, (error, baseline)
    stream = AAETransformer(n_components=2, random_state=0)
    for chunk in np.array_split(X_train, 3):
        stream.partial_fit(chunk)
    assert stream.device_.type == "cuda" and stream.n_iter_ == 3
    assert np.isfinite(stream.transform(X_test)).all()


def test_gpu_classifier_with_ten_labels_a_class(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = AAEClassifier(random_state=0).fit(X_train, ten_labels_a_class(y_train))
    assert clf.device_.type == "cuda"
    proba = clf.predict_proba(X_test)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-10)
    # The CPU's defaults reach 0.95-0.96 on this split; LabelSpreading 0.95.
    assert clf.score(X_test, y_test) > 0.9


def test_gpu_clusterer_beats_chance_by_far(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clusterer = AAEClusterer(n_clusters=10, random_state=0).fit(X_train)
    assert clusterer.device_.type == "cuda"
    # The CPU's defaults reach an ARI of 0.73-0.87 on held-out rows; KMeans 0.67.
    assert adjusted_rand_score(y_test, clusterer.predict(X_test)) > 0.6
