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
    # The default map: neighbour term, cluster heads (§7) and the consistency term.
    AAETransformer(**FAST),
    # Its codes with the heads' mean under q(y|x) instead of the most probable head;
    # the 20 heads of larger data (the checks' few rows would get 2).
    AAETransformer(cluster_head_assignment="soft", n_cluster_heads=20, **FAST),
    # The paper's plain adversarial autoencoder, the continuous code z alone.
    AAETransformer(neighbor_weight=0.0, **FAST),
    # check_classifiers_train asks for > 83% training accuracy on 300 blobs:
    # small batches and a faster cross-entropy phase reach it in 10 epochs
    # (seeds 0-2), a third of the time 30 epochs at the default rate took.
    AAEClassifier(**{**FAST, "max_iter": 10, "batch_size": 32,
                     "supervised_learning_rate": 1e-2}),
    # check_clustering asks for ARI > 0.4 on 50 blobs: 10 epochs of small
    # batches cluster them (seeds 0-2). The re-cut's maps took nine tenths of
    # these checks' time; its seeding, pickling and odd input are tested in
    # test_cluster.py, test_refinement.py and test_input_robustness.py.
    AAEClusterer(**{**FAST, "max_iter": 10, "batch_size": 16, "refine_clusters": False}),
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


#: With cluster_head_assignment="soft" the cluster-head transformer returns
#: softmax(logits) @ W_C + z: float32 rounding that depends on the batch's size
#: (about 1e-7 in the logits, between a matrix product over one row and over
#: twenty) is multiplied by heads a margin (6) apart, past the check's absolute
#: tolerance of 1e-7. The default, "hard", adds one head, and passes.
CLUSTER_HEAD_FAILED_CHECKS = {
    "check_methods_subset_invariance": (
        "float32 inference: the encoder's rounding differs by about 1e-7 between "
        "batches of 1 and 20 rows, and the soft cluster heads scale it to 4e-7, past "
        "the check's atol of 1e-7."
    ),
}


def _expected_failed_checks(estimator):
    if (isinstance(estimator, AAETransformer) and estimator.neighbor_weight
            and estimator.cluster_head_assignment == "soft"):
        return CLUSTER_HEAD_FAILED_CHECKS
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
