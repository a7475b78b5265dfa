"""Inference with a trained model: arrays in, arrays out.

The one place where the engine's tensors become the numpy arrays the
estimators return. Rows go through the model in large no-grad batches, which
keep the BLAS busy.
"""

import numpy as np
import torch

from .data import as_training_data

#: Rows per no-grad batch at inference.
INFERENCE_BATCH_SIZE = 4096


@torch.no_grad()
def map_batches(function, data, batch_size=INFERENCE_BATCH_SIZE):
    """Apply ``function`` to the rows of ``data`` in no-grad batches and concatenate."""
    outputs = [
        function(data.slice(start, start + batch_size))
        for start in range(0, len(data), batch_size)
    ]
    return torch.cat(outputs) if outputs else None


def _apply(function, X, device):
    """``function`` of the rows of ndarray or sparse ``X``, as a tensor on ``device``."""
    return map_batches(function, as_training_data(X, device))


def _numpy(tensor):
    return tensor.cpu().numpy()


def encode(model, X, device, hard_cluster_heads=False):
    """The representation of each row of ``X`` (float32 ndarray); see ``model.encode``."""

    def encode_rows(rows):
        return model.encode(rows, hard_cluster_heads=hard_cluster_heads)

    return _numpy(_apply(encode_rows, X, device))


def decoder_inputs(model, X, device, hard_categories=False):
    """The decoder's input for each row of ``X`` (float32 ndarray); see
    ``model.decoder_input``."""

    def decoder_input(rows):
        return model.decoder_input(rows, hard_categories)

    return _numpy(_apply(decoder_input, X, device))


def category_logits(model, X, device):
    """The logits of q(y|x) of each row of ``X``, a float32 ndarray."""
    return _numpy(_apply(model.classify, X, device))


def category_probabilities(model, X, device, categories=None, log=False):
    """q(y|x) of each row of ``X`` in float64, over ``categories`` (all by default).

    Restricted to ``categories`` (int array), the probabilities are those of
    the softmax over these categories' logits alone, so rows sum to 1.
    ``log`` returns their logarithm, computed stably from the logits.
    """
    logits = _apply(model.classify, X, device)
    if categories is not None:
        logits = logits[:, torch.as_tensor(categories)]
    logits = logits.double()
    return _numpy(logits.log_softmax(dim=1) if log else logits.softmax(dim=1))


def decode(model, Z, device, categories=None):
    """Data-space outputs of codes ``Z`` (float32 ndarray).

    ``categories`` (int array, one per row) picks the category of y each row
    is decoded as, in the layouts with categories; it is fed to the decoder
    one-hot, next to ``Z``.
    """
    if categories is None:
        return _numpy(_apply(model.decode, Z, device))
    n_categories = model.config.layout.n_categories
    one_hot = np.eye(n_categories)[categories]

    def decode_rows(rows):
        return model.decode(rows[:, n_categories:], rows[:, :n_categories])

    return _numpy(_apply(decode_rows, np.hstack([one_hot, Z]), device))


def decode_representation(model, R, device):
    """Data-space outputs of decoder inputs ``R`` (see ``model.represent``), float32."""
    return _numpy(_apply(model.decode_representation, R, device))


def cluster_heads(model):
    """The cluster heads W_C of the cluster-head layout, a float64 ndarray."""
    return model.cluster_heads.detach().cpu().double().numpy()


def reconstruction_error(model, X):
    """Mean reconstruction loss of the rows of tensor ``X``, encoded deterministically."""
    Z, logits = model.encode_latent(X)
    categories = None if logits is None else torch.softmax(logits, dim=1)
    return model.reconstruction_loss(model.decode_raw(Z, categories), X)


def validation_score(X, targets, device):
    """The early-stopping score of a fitted model on held-out rows ``X``, higher is better.

    With class indices ``targets``, the accuracy of q(y|x); without, minus
    the mean reconstruction loss. Returns ``score(model)``.
    """
    data = as_training_data(X, device)
    if targets is not None:
        targets = torch.as_tensor(targets, device=device)

        def accuracy(model):
            logits = map_batches(model.classify, data)
            return float((logits.argmax(dim=1) == targets).float().mean())

        return accuracy

    def minus_reconstruction_loss(model):
        total = 0.0
        for start in range(0, len(data), INFERENCE_BATCH_SIZE):
            rows = data.slice(start, start + INFERENCE_BATCH_SIZE)
            total += float(reconstruction_error(model, rows)) * len(rows)
        return -total / len(data)

    return minus_reconstruction_loss
