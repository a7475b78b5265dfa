"""The torch engine behind skaae's estimators; it knows nothing of scikit-learn.

The estimators hand it arrays (:class:`TrainingSet`) and get arrays back
(:mod:`~skaae._engine.inference`). Inside: the networks and the model in its
three latent layouts (``model``), the loss terms (``losses``), the phases
that sum them (``phases``), the epoch loop (``trainer``) and what happens
around it (``callbacks``, ``head_layout``).
"""

from . import distributed, inference
from .callbacks import Callback, EarlyStopping, History, ProgressBar, in_parallel_worker
from .data import TrainingSet, as_training_data
from .device import make_generator, resolve_device
from .head_layout import GraphHeadLayout
from .model import RECONSTRUCTION_LOSSES, AdversarialAutoencoder, LatentLayout, ModelConfig
from .networks import ACTIVATIONS, ENCODER_KINDS, POINT_CLOUD_ENCODERS
from .point_clouds import SET_DISTANCES
from .trainer import PRECISIONS, Trainer, TrainingConfig, TrainingDivergedError

__all__ = [
    "ACTIVATIONS",
    "ENCODER_KINDS",
    "POINT_CLOUD_ENCODERS",
    "PRECISIONS",
    "RECONSTRUCTION_LOSSES",
    "SET_DISTANCES",
    "AdversarialAutoencoder",
    "Callback",
    "EarlyStopping",
    "GraphHeadLayout",
    "History",
    "LatentLayout",
    "ModelConfig",
    "ProgressBar",
    "Trainer",
    "TrainingConfig",
    "TrainingDivergedError",
    "TrainingSet",
    "as_training_data",
    "distributed",
    "in_parallel_worker",
    "inference",
    "make_generator",
    "resolve_device",
]
