"""skaae: Adversarial Autoencoders as scikit-learn estimators on a PyTorch engine."""

from .classifier import AAEClassifier
from .cluster import AAEClusterer
from .transformer import AAETransformer

__version__ = "0.1.0.dev0"

__all__ = ["AAEClassifier", "AAEClusterer", "AAETransformer", "__version__"]
