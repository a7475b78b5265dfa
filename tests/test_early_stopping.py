"""early_stopping, validation_fraction, n_iter_no_change and tol, as in MLPClassifier."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skaae import AAEClassifier, AAEClusterer, AAETransformer

SMALL = dict(hidden_layer_sizes=(32,), discriminator_hidden_layer_sizes=(32,), random_state=0)


def test_transformer_stops_and_keeps_its_best_epoch(digits_split):
    X_train, X_test = digits_split[:2]
    stopped = AAETransformer(early_stopping=True, n_iter_no_change=3, max_iter=200,
                             **SMALL).fit(X_train)
    scores = stopped.validation_scores_
    assert stopped.n_iter_ < 200 and len(scores) == stopped.n_iter_
    assert all(s < 0 for s in scores)  # minus a reconstruction loss
    best_epoch = int(np.argmax(scores)) + 1
    assert stopped.best_validation_score_ == max(scores)
    # Training ends n_iter_no_change epochs after the last improvement of more than tol.
    reference, last_improvement = -np.inf, 0
    for epoch, score in enumerate(scores, start=1):
        if score > reference + stopped.tol:
            last_improvement = epoch
        reference = max(reference, score)
    assert stopped.n_iter_ == last_improvement + 3
    # The same split and seed trained for exactly the best epoch count: the same model.
    best = AAETransformer(early_stopping=True, n_iter_no_change=1000, max_iter=best_epoch,
                          **SMALL).fit(X_train)
    assert_array_equal(stopped.transform(X_test), best.transform(X_test))


def test_without_early_stopping_there_are_no_validation_scores(digits_split):
    aae = AAETransformer(max_iter=2, **SMALL).fit(digits_split[0])
    assert aae.validation_scores_ is None and aae.best_validation_score_ is None
    assert aae.n_iter_ == 2


def test_classifier_scores_accuracy_on_held_out_labeled_rows(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    y_partial = y_train.copy()
    y_partial[np.random.default_rng(0).random(len(y_train)) > 0.3] = -1
    clf = AAEClassifier(early_stopping=True, n_iter_no_change=5, max_iter=300,
                        **SMALL).fit(X_train, y_partial)
    assert clf.n_iter_ < 300
    assert all(0 <= s <= 1 for s in clf.validation_scores_)
    assert clf.best_validation_score_ > 0.6
    assert clf.score(X_test, y_test) > 0.6


def test_clusterer_stops_early(digits_split, cheap_recut):
    # Without the re-cut's teaching epochs, which hold no rows out. A coarse tol
    # stops it after 17 epochs (155 at the default 1e-4).
    settings = dict(n_clusters=5, early_stopping=True, n_iter_no_change=2, tol=1e-2,
                    max_iter=300, **SMALL)
    km = AAEClusterer(refine_clusters=False, **settings).fit(digits_split[0])
    assert km.n_iter_ < 300 and len(km.validation_scores_) == km.n_iter_
    refined = AAEClusterer(**settings).fit(digits_split[0])
    # Teaching a re-cut (here 3 epochs, and 3 more without the agreement term)
    # keeps the fit's validation scores.
    assert_array_equal(refined.validation_scores_, km.validation_scores_)
    assert len(refined.validation_scores_) < refined.n_iter_


def test_too_few_rows_to_hold_out_is_a_clear_error(digits_split):
    with pytest.raises(ValueError, match="leaving none to train on"):
        AAETransformer(early_stopping=True, **SMALL).fit(digits_split[0][:1])


def test_validation_split_without_labeled_rows_is_a_clear_error(digits_split):
    X_train, _, y_train, _ = digits_split
    y_partial = np.full(len(y_train), -1)
    y_partial[:2] = y_train[:2]
    with pytest.raises(ValueError, match="validation split, but it holds none"):
        AAEClassifier(early_stopping=True, validation_fraction=0.01, max_iter=2,
                      **SMALL).fit(X_train, y_partial)
