"""scikit-learn's own estimator checks, run on every public estimator.

Every check we expect to fail is listed in ``EXPECTED_FAILED_CHECKS`` with the
reason; the list is kept as short as honest work allows.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skaae import AAEClassifier, AAEClusterer, AAETransformer

# Small networks and few epochs: the checks test the contract, not the quality.
FAST = dict(
    hidden_layer_sizes=(16,),
    discriminator_hidden_layer_sizes=(16,),
    max_iter=3,
    random_state=0,
)

ESTIMATORS = [
    AAETransformer(**FAST),
    # The cluster-head layout of §7 has its own fit path and inverse_transform.
    AAETransformer(n_clusters=5, **FAST),
    # check_classifiers_train asks for > 83% training accuracy on 300 blobs:
    # small batches and constant rates give the cross-entropy phase enough
    # steps (a decay of 0.9 per epoch left 300 rows too few).
    AAEClassifier(**{**FAST, "max_iter": 30, "batch_size": 32, "learning_rate_decay": 1.0}),
    # check_clustering asks for ARI > 0.4 on 50 blobs: enough steps to cluster them.
    AAEClusterer(**{**FAST, "max_iter": 30, "batch_size": 16}),
]

#: check name -> reason, per estimator class.
EXPECTED_FAILED_CHECKS = {
    "AAEClusterer": {
        check: (
            "The check reads classifier_tags whenever an estimator has predict_proba, "
            "but those tags are None for a clusterer (GaussianMixture never gets "
            "there because it rejects sparse input). Sparse fit, predict and "
            "predict_proba are tested in test_cluster.py."
        )
        for check in ("check_estimator_sparse_array", "check_estimator_sparse_matrix")
    },
    "AAEClassifier": {
        "check_classifiers_classes": (
            "Its last case trains on labels {-1, 1}, but -1 marks an unlabeled row "
            "in scikit-learn's semi-supervised convention, which AAEClassifier "
            "follows; the check exempts LabelSpreading, LabelPropagation and "
            "SelfTrainingClassifier from that case by name."
        ),
    },
}


#: For AAETransformer: these checks treat any estimator with an ``n_clusters``
#: parameter as a clusterer and set it to 1 or 2, which turns on the cluster
#: heads of §7, then fit with a 2- or 3-class y. Given y, the semi-supervised
#: cluster-head reduction ties class k to head k and rejects more classes
#: than heads with a ValueError. AAEClassifier and AAEClusterer pass them.
CLUSTER_HEAD_FAILED_CHECKS = {
    check: (
        "Sets n_clusters to 1 or 2 as for a clusterer, then fits with more classes "
        "in y than heads, which the semi-supervised cluster-head model rejects."
    )
    for check in (
        "check_dont_overwrite_parameters",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1feature",
        "check_fit2d_predict1d",
    )
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, AAETransformer):
        return CLUSTER_HEAD_FAILED_CHECKS
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
