"""Embed the digits data set in two dimensions with an adversarial autoencoder.

Run as::

    python -m skaae.demo [--output-dir DIR] [--max-iter N] [--random-state S]

Fits ``MinMaxScaler -> AAETransformer(n_components=2)`` on 70% of scikit-learn's
digits, reports how well the held-out 30% embed (5-nearest-neighbour accuracy
and trustworthiness of the codes, next to PCA's), and writes
``latent_space.png`` (the held-out codes coloured by digit) and
``samples.png`` (100 digits generated from the prior) into the output
directory. Needs matplotlib (``pip install 'skaae[plot]'``).
"""

import argparse
import time
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from .plotting import plot_latent, plot_samples
from .transformer import AAETransformer


def _evaluate(pipe, X_train, X_test, y_train, y_test):
    """5-NN accuracy and trustworthiness of the held-out codes of ``pipe``."""
    Z_train, Z_test = pipe.transform(X_train), pipe.transform(X_test)
    knn = KNeighborsClassifier(n_neighbors=5).fit(Z_train, y_train)
    # Trustworthiness is measured in the scaled space the embedding sees.
    X_scaled = pipe[0].transform(X_test)
    return (
        float(knn.score(Z_test, y_test)),
        float(trustworthiness(X_scaled, Z_test, n_neighbors=10)),
        Z_test,
    )


def _save(ax, path):
    import matplotlib.pyplot as plt

    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)


def main(argv=None):
    """Run the demo and return its metrics.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv``.

    Returns
    -------
    metrics : dict of str to float
        ``fit_time`` (seconds), and ``aae_knn_accuracy``,
        ``aae_trustworthiness``, ``pca_knn_accuracy``, ``pca_trustworthiness``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m skaae.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--output-dir", type=Path, default=Path("demo_output"))
    parser.add_argument(
        "--max-iter", type=int, default=None,
        help="number of epochs (default: the estimator's default)",
    )
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.random_state
    )
    params = {} if args.max_iter is None else {"max_iter": args.max_iter}
    aae = AAETransformer(n_components=2, random_state=args.random_state, **params)
    pipe = make_pipeline(MinMaxScaler(), aae)

    start = time.perf_counter()
    pipe.fit(X_train)
    fit_time = time.perf_counter() - start
    aae_knn, aae_trust, Z_test = _evaluate(pipe, X_train, X_test, y_train, y_test)

    pca = make_pipeline(MinMaxScaler(), PCA(n_components=2)).fit(X_train)
    pca_knn, pca_trust, _ = _evaluate(pca, X_train, X_test, y_train, y_test)

    print(
        f"AAETransformer: {aae.n_iter_} epochs on {len(X_train)} digits "
        f"in {fit_time:.1f} s"
    )
    print(f"{'held-out':<16}{'5-NN accuracy':>15}{'trustworthiness':>17}")
    print(f"{'AAE (2-D)':<16}{aae_knn:>15.3f}{aae_trust:>17.3f}")
    print(f"{'PCA (2-D)':<16}{pca_knn:>15.3f}{pca_trust:>17.3f}")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    ax = plot_latent(Z_test, y_test, title="Held-out digits in the AAE's code space")
    _save(ax, args.output_dir / "latent_space.png")
    scaler = pipe[0]
    samples = scaler.inverse_transform(aae.sample(100, random_state=args.random_state))
    ax = plot_samples(
        samples, n_cols=10, vmin=scaler.data_min_.min(), vmax=scaler.data_max_.max(),
        title="Digits generated from the prior",
    )
    _save(ax, args.output_dir / "samples.png")
    print(f"wrote latent_space.png and samples.png to {args.output_dir}/")

    return {
        "fit_time": fit_time,
        "aae_knn_accuracy": aae_knn,
        "aae_trustworthiness": aae_trust,
        "pca_knn_accuracy": pca_knn,
        "pca_trustworthiness": pca_trust,
    }


if __name__ == "__main__":
    main()
