"""The torch engine behind skaae's estimators; it knows nothing of scikit-learn.

It takes and returns tensors: networks, the model, the per-minibatch phases,
the epoch loop and device handling.
"""

from .data import as_training_data
from .device import make_generator, resolve_device
from .model import RECONSTRUCTION_LOSSES, AdversarialAutoencoder, ModelConfig
from .neighbors import NeighborGraph
from .networks import ACTIVATIONS, ENCODER_KINDS
from .trainer import (
    PHASES,
    PRECISIONS,
    SUPERVISED_PHASE,
    EarlyStopping,
    LabeledBatches,
    Trainer,
    TrainingConfig,
    TrainingDivergedError,
    accuracy_score,
    map_batches,
    reconstruction_score,
)

__all__ = [
    "ACTIVATIONS",
    "ENCODER_KINDS",
    "EarlyStopping",
    "LabeledBatches",
    "PHASES",
    "PRECISIONS",
    "RECONSTRUCTION_LOSSES",
    "SUPERVISED_PHASE",
    "AdversarialAutoencoder",
    "ModelConfig",
    "NeighborGraph",
    "Trainer",
    "TrainingConfig",
    "TrainingDivergedError",
    "accuracy_score",
    "as_training_data",
    "make_generator",
    "map_batches",
    "reconstruction_score",
    "resolve_device",
]
