"""The torch engine on its own: devices, networks, loss terms, phases and the epoch loop."""


import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skaae._engine import (
    AdversarialAutoencoder,
    Callback,
    History,
    LatentLayout,
    ModelConfig,
    Trainer,
    TrainingConfig,
    TrainingDivergedError,
    TrainingSet,
    as_training_data,
    make_generator,
    resolve_device,
)
from skaae._engine import losses
from skaae._engine.callbacks import WeightAverage, clone_state
from skaae._engine.data import LabeledBatches, NeighborGraph
from skaae._engine.inference import map_batches
from skaae._engine.losses import (
    KERNEL_A,
    KERNEL_B,
    N_NEGATIVES,
    consistency_divergence,
    neighbor_embedding_loss,
)
from skaae._engine.networks import Encoder
from skaae._engine.phases import (
    Encoded,
    GeneratorPhase,
    Minibatch,
    ReconstructionPhase,
    SupervisedPhase,
    build_phases,
)
from skaae._engine.trainer import autocast_dtype


def make_model(encoder="deterministic", n_label_slots=0, loss="mse", seed=0, n_categories=0):
    layout = LatentLayout.categorical(n_categories) if n_categories else LatentLayout()
    config = ModelConfig(
        n_features=6,
        n_components=2,
        hidden_layer_sizes=(8,),
        discriminator_hidden_layer_sizes=(8,),
        encoder=encoder,
        reconstruction_loss=loss,
        n_label_slots=n_label_slots,
        layout=layout,
    )
    shift, scale = np.linspace(0, 1, 6), np.linspace(1, 2, 6)
    return AdversarialAutoencoder(config, shift, scale, generator=make_generator(seed, "cpu"))


def minibatch(X, Z_prior=None, Y_prior=None, label_codes=None, X_neighbors=None, labeled=None,
              seed=0):
    """A Minibatch of clean rows ``X``, seen by the encoder as they are."""
    if Z_prior is None:
        Z_prior = torch.randn(len(X), 2, generator=make_generator(seed + 100, "cpu"))
    return Minibatch(X, X, Z_prior, Y_prior, label_codes, X_neighbors, labeled,
                     make_generator(seed, "cpu"))


def gaussian_prior(n_components=2, seed=0):
    """A prior sampler for a TrainingSet: standard normal draws, one per row."""
    rng = np.random.default_rng(seed)
    return lambda rows: rng.standard_normal((len(rows), n_components))


def parameters_of(module):
    return [p.detach().clone() for p in module.parameters()]


def unchanged(before, module):
    return all(torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("not-a-device")
    if not torch.cuda.is_available():
        with pytest.warns(RuntimeWarning, match="CUDA is not available"):
            assert resolve_device("cuda") == torch.device("cpu")


def test_same_seed_same_weights_and_no_global_draws():
    state = torch.get_rng_state()
    a, b, c = make_model(seed=1), make_model(seed=1), make_model(seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("kind", ["gaussian", "universal"])
def test_stochastic_encoders_are_deterministic_without_a_generator(kind):
    encoder = Encoder(5, (8,), 3, "relu", kind)
    X = torch.randn(4, 5, generator=make_generator(1, "cpu"))
    assert torch.equal(encoder(X)[0], encoder(X)[0])
    noisy_a = encoder(X, make_generator(2, "cpu"))[0]
    noisy_b = encoder(X, make_generator(3, "cpu"))[0]
    assert not torch.allclose(noisy_a, noisy_b)
    assert noisy_a.shape == (4, 3)
    if kind == "gaussian":
        # Averaging many reparametrized draws recovers the mean code.
        draws = torch.stack([encoder(X, make_generator(s, "cpu"))[0] for s in range(2000)])
        torch.testing.assert_close(draws.mean(0), encoder(X)[0], atol=0.1, rtol=0)


def test_unknown_encoder_kind():
    with pytest.raises(ValueError, match="encoder must be one of"):
        Encoder(5, (8,), 3, "relu", "magic")


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_decoder_output_space(loss):
    model = make_model(loss=loss)
    X = torch.rand(3, 6)
    if loss == "mse":
        # A raw output equal to the standardised input decodes to the input itself.
        torch.testing.assert_close(model.to_data_space(model.standardize(X)), X)
        assert model.reconstruction_loss(model.standardize(X), X).item() == pytest.approx(0)
    else:
        out = model.decode(torch.randn(50, 2) * 10)
        assert out.min() >= 0 and out.max() <= 1


def test_mse_is_data_space_error_over_the_mean_variance():
    config = ModelConfig(n_features=3, n_components=2, hidden_layer_sizes=(8,),
                         discriminator_hidden_layer_sizes=(8,))
    mean, std = np.array([0.0, 5.0, 2.0]), np.array([1.0, 3.0, 0.0])  # last one constant
    model = AdversarialAutoencoder(config, mean, std, generator=make_generator(0, "cpu"))
    X = torch.tensor([[1.0, 8.0, 2.0], [-1.0, 2.0, 2.0]])
    # Predicting the mean scores exactly 1: the squared error, (1 + 9 + 0) / 3 per
    # row, over the mean variance (1 + 9 + 0) / 3.
    assert model.reconstruction_loss(torch.zeros(2, 3), X).item() == pytest.approx(1.0)
    # An error of 1 unit costs the same on the wide feature as on the narrow one.
    raw = model.standardize(X)
    raw_off = raw.clone()
    raw_off[:, 0] += 1.0  # 1 unit on feature 0 (std 1)
    raw_wide = raw.clone()
    raw_wide[:, 1] += 1.0 / 3  # 1 unit on feature 1 (std 3)
    assert model.reconstruction_loss(raw_off, X).item() == pytest.approx(
        model.reconstruction_loss(raw_wide, X).item()
    )
    # A constant feature decodes to its value whatever the decoder says.
    assert torch.all(model.to_data_space(torch.randn(4, 3))[:, 2] == 2.0)


@pytest.mark.parametrize("precision, expected", [
    ("auto", None), ("float32", None), ("bfloat16", torch.bfloat16),
])
def test_autocast_dtype(precision, expected):
    assert autocast_dtype(precision) is expected


def test_autocast_dtype_rejects_unknown_precision():
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast_dtype("float16")


def step(trainer, phase, batch):
    """Run one phase of ``trainer`` (by name) on ``batch``."""
    phase = {p.name: p for p in trainer.phases + [SupervisedPhase([losses.CrossEntropy()])]}[phase]
    return phase.step(trainer.model, batch, trainer.optimizers[phase.name])


def test_each_phase_updates_only_its_own_networks():
    model = make_model(n_label_slots=3)
    trainer = Trainer(model, TrainingConfig(4, 1e-2, 1e-2, 1e-2), make_generator(0, "cpu"))
    labels = torch.nn.functional.one_hot(torch.tensor([0, 1, 3, 2]), 4).float()
    batch = minibatch(torch.rand(4, 6), label_codes=labels)

    disc, dec, enc = (parameters_of(m) for m in (model.discriminator, model.decoder, model.encoder))
    step(trainer, "reconstruction", batch)
    assert unchanged(disc, model.discriminator)
    assert not unchanged(enc, model.encoder) and not unchanged(dec, model.decoder)

    enc, dec = parameters_of(model.encoder), parameters_of(model.decoder)
    step(trainer, "discriminator", batch)
    assert unchanged(enc, model.encoder) and unchanged(dec, model.decoder)
    assert not unchanged(disc, model.discriminator)

    disc = parameters_of(model.discriminator)
    step(trainer, "generator", batch)
    assert unchanged(disc, model.discriminator) and unchanged(dec, model.decoder)
    assert not unchanged(enc, model.encoder)


def test_generator_phase_computes_no_discriminator_gradients():
    # The generator phase backpropagates through the discriminators into the
    # encoder; their own weight gradients would be wasted work.
    model = make_model(n_categories=3)
    trainer = Trainer(model, TrainingConfig(4, 1e-2, 1e-2, 1e-2), make_generator(0, "cpu"))
    step(trainer, "generator", minibatch(torch.rand(4, 6)))
    discriminators = [model.discriminator, model.category_discriminator]
    assert all(p.grad is None for d in discriminators for p in d.parameters())
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_cpu_optimizers_are_fused():
    model = make_model(n_categories=3)
    trainer = Trainer(model, TrainingConfig(4, 1e-2, 1e-2, 1e-2), make_generator(0, "cpu"))
    assert list(trainer.optimizers) == ["reconstruction", "discriminator", "generator",
                                        "supervised"]
    assert all(optimizer.defaults["fused"] for optimizer in trainer.optimizers.values())


def test_build_phases_switches_terms_on_by_layout_and_weight():
    config = TrainingConfig(4, 1e-3, 1e-3, 1e-3, category_balance=2.0, neighbor_weight=0.5)
    names = {
        phase.name: [type(term).__name__ for term in phase.terms]
        for phase in build_phases(LatentLayout.cluster_heads(3, 2.0), config, supervised=True)
    }
    assert names == {
        "reconstruction": ["Reconstruction", "NeighborEmbedding", "ClusterHeadHinge"],
        "discriminator": ["PriorAdversary", "CategoryAdversary"],
        "generator": ["FoolPriorAdversary", "FoolCategoryAdversary", "CategoryBalance"],
        "supervised": ["CrossEntropy"],
    }
    # The paper's plain model: one adversary, no extra terms.
    plain = build_phases(LatentLayout.continuous(), TrainingConfig(4, 1e-3, 1e-3, 1e-3))
    assert [[type(t).__name__ for t in p.terms] for p in plain] == [
        ["Reconstruction"], ["PriorAdversary"], ["FoolPriorAdversary"]
    ]
    # The agreement of q(y|x) over the graph is a term of layouts with categories only.
    agreeing = TrainingConfig(4, 1e-3, 1e-3, 1e-3, neighbor_agreement=1.0)
    assert agreeing.draws_neighbors
    categorical = build_phases(LatentLayout.categorical(3), agreeing)
    assert [type(t).__name__ for t in categorical[0].terms] == [
        "Reconstruction", "NeighborAgreement"]
    continuous = build_phases(LatentLayout.continuous(), agreeing)
    assert [type(t).__name__ for t in continuous[0].terms] == ["Reconstruction"]
    # Fixed heads are not moved, so they need no hinge.
    fixed = build_phases(LatentLayout.cluster_heads(3, 2.0, learn=False), config)
    assert "ClusterHeadHinge" not in [type(t).__name__ for t in fixed[0].terms]


def test_latent_layout_is_a_value():
    assert LatentLayout.categorical(4) == LatentLayout("categorical", 4)
    assert LatentLayout.cluster_heads(5, 6.0).n_decoder_inputs(2) == 2
    assert LatentLayout.categorical(5).n_decoder_inputs(2) == 7
    assert not LatentLayout.continuous().has_categories
    with pytest.raises(ValueError, match="kind must be one of"):
        LatentLayout("mixture")
    with pytest.raises(ValueError, match="cannot have n_categories=0"):
        LatentLayout("categorical", 0)


def test_phase_loss_is_the_weighted_sum_of_its_terms():
    model = make_model(n_categories=3)
    batch = minibatch(torch.rand(8, 6))
    fool = GeneratorPhase([losses.FoolPriorAdversary()]).loss(model, batch)
    balance = GeneratorPhase([losses.CategoryBalance(1.0)]).loss(model, batch)
    both = GeneratorPhase([losses.FoolPriorAdversary(), losses.CategoryBalance(2.5)])
    torch.testing.assert_close(both.loss(model, batch), fool + 2.5 * balance)


class RecordEpochs(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, trainer):
        self.events.append("begin")

    def on_epoch_end(self, trainer, losses):
        self.events.append(sorted(losses))
        return False

    def on_train_end(self, trainer):
        self.events.append("end")


@pytest.mark.parametrize("precision, dtype", [
    ("float32", torch.float32), ("bfloat16", torch.bfloat16),
])
def test_trainer_fills_history_and_learns(precision, dtype):
    model = make_model()
    X = torch.rand(256, 6, generator=make_generator(5, "cpu"))
    history = {}
    record = RecordEpochs()
    dtypes_seen = set()
    model.decoder.register_forward_hook(lambda m, i, out: dtypes_seen.add(out.dtype))
    code_dtypes = set()  # the encoder's codes and the discriminator's logits
    for module in (model.discriminator, model.encoder.style_head):
        module.register_forward_hook(lambda m, i, out: code_dtypes.add(out.dtype))
    config = TrainingConfig(32, 1e-2, 1e-3, 1e-3, precision=precision)
    trainer = Trainer(model, config, make_generator(0, "cpu"))
    trainer.fit(TrainingSet(X.numpy(), gaussian_prior()), 15,
                callbacks=[History(history), record])
    phases = ["discriminator", "generator", "reconstruction"]
    assert record.events == ["begin"] + [phases] * 15 + ["end"]
    assert all(len(losses) == 15 for losses in history.values())
    assert history["reconstruction"][-1] < 0.5 * history["reconstruction"][0]
    # bfloat16 autocast lowers the hidden layers' matmuls; the codes, the
    # discriminator and the weights stay float32.
    assert dtypes_seen == {dtype}
    assert code_dtypes == {torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_non_finite_loss_names_phase_and_epoch():
    model = make_model()
    trainer = Trainer(model, TrainingConfig(8, 1e-3, 1e-3, 1e-3), make_generator(0, "cpu"))
    before = parameters_of(model)

    def broken_prior(rows):
        return np.full((len(rows), 2), np.nan)

    rows = np.random.default_rng(0).random((20, 6))
    with pytest.raises(TrainingDivergedError, match="discriminator loss became nan at epoch 4"):
        trainer.fit(TrainingSet(rows, broken_prior), 3, epochs_trained=3)
    # The diverged epoch is undone.
    assert unchanged(before, model)


def test_an_interrupted_epoch_is_undone():
    model = make_model()
    trainer = Trainer(model, TrainingConfig(8, 1e-3, 1e-3, 1e-3), make_generator(0, "cpu"))

    class InterruptSecondEpoch(Callback):
        """Ctrl-C in the second epoch's second minibatch (3 minibatches an epoch)."""

        def __init__(self):
            self.n_batches, self.after_first = 0, None

        def on_batch_end(self, trainer):
            self.n_batches += 1
            if self.n_batches == 5:
                raise KeyboardInterrupt

        def on_epoch_end(self, trainer, losses):
            self.after_first = parameters_of(trainer.model)
            return False

    history = {}
    interrupt = InterruptSecondEpoch()
    rows = np.random.default_rng(0).random((20, 6))
    interrupted = trainer.fit(TrainingSet(rows, gaussian_prior()), 5,
                              callbacks=[History(history), interrupt])
    assert interrupted
    assert {phase: len(values) for phase, values in history.items()} == {
        "reconstruction": 1, "discriminator": 1, "generator": 1
    }
    assert unchanged(interrupt.after_first, model)


def _assert_cloned(copied, original):
    """``copied`` has ``original``'s structure and values, in tensors of its own."""
    assert type(copied) is type(original)
    if isinstance(original, torch.Tensor):
        assert torch.equal(copied, original) and copied.dtype == original.dtype
        assert copied.untyped_storage().data_ptr() != original.untyped_storage().data_ptr()
    elif isinstance(original, dict):
        assert list(copied) == list(original)
        for key in original:
            _assert_cloned(copied[key], original[key])
    elif isinstance(original, (list, tuple)):
        assert len(copied) == len(original)
        for copied_value, value in zip(copied, original):
            _assert_cloned(copied_value, value)
    else:
        assert copied == original


def test_clone_state_copies_a_model_and_its_optimizer():
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), betas=(0.5, 0.999))
    sum(parameter.sum() for parameter in model.parameters()).backward()
    optimizer.step()
    for state in (model.state_dict(), optimizer.state_dict()):
        copied = clone_state(state)
        _assert_cloned(copied, state)
        assert getattr(copied, "_metadata", None) == getattr(state, "_metadata", None)
    # Training on does not reach the copies: a restore gives the state back.
    saved = clone_state(optimizer.state_dict()), clone_state(model.state_dict())
    before = parameters_of(model)
    optimizer.step()
    assert not unchanged(before, model)
    optimizer.load_state_dict(saved[0])
    model.load_state_dict(saved[1])
    assert unchanged(before, model)
    _assert_cloned(clone_state(optimizer.state_dict()), saved[0])


def test_sparse_batches_equal_dense_batches():
    X = sp.random(30, 6, density=0.3, random_state=0, format="csr")
    dense, sparse = as_training_data(X.toarray(), "cpu"), as_training_data(X, "cpu")
    index = torch.tensor([3, 0, 29, 7])
    assert torch.equal(dense.batch(index), sparse.batch(index))
    assert torch.equal(dense.slice(5, 12), sparse.slice(5, 12))
    assert len(dense) == len(sparse) == 30


def test_map_batches_keeps_row_order():
    data = as_training_data(np.arange(10.0).reshape(10, 1), "cpu")
    out = map_batches(lambda x: x * 2, data, batch_size=3)
    torch.testing.assert_close(out, torch.arange(10.0).reshape(10, 1) * 2)


def test_categorical_layout_phases_update_the_right_networks():
    model = make_model(n_categories=3)
    trainer = Trainer(model, TrainingConfig(4, 1e-2, 1e-2, 1e-2), make_generator(0, "cpu"))
    X = torch.rand(4, 6)
    Y_prior = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()

    Z, logits = model.encode_latent(X)
    assert Z.shape == (4, 2) and logits.shape == (4, 3)
    assert model.decode(Z, torch.softmax(logits, 1)).shape == (4, 6)

    categorical = parameters_of(model.category_discriminator)
    style_head = parameters_of(model.encoder.style_head)
    step(trainer, "discriminator", minibatch(X, Y_prior=Y_prior))
    assert not unchanged(categorical, model.category_discriminator)

    decoder = parameters_of(model.decoder)
    step(trainer, "supervised", minibatch(X, labeled=lambda: (X, torch.tensor([0, 1, 2, 1]))))
    # Cross-entropy trains q(y|x) only: the style head and the decoder stay put.
    assert unchanged(style_head, model.encoder.style_head)
    assert unchanged(decoder, model.decoder)


def test_consistency_finds_a_worse_direction_than_chance():
    torch.manual_seed(0)
    model = make_model(n_categories=4, seed=1)
    S = torch.randn(256, 6)
    with torch.no_grad():
        probabilities = torch.softmax(model.encoder(S)[1], dim=1)

    def divergence_along(directions):
        directions = 2.0 * directions / directions.norm(dim=1, keepdim=True)
        with torch.no_grad():
            logits = model.encoder(S + directions)[1]
        return torch.nn.functional.kl_div(
            torch.log_softmax(logits, 1), probabilities, reduction="batchmean"
        )

    adversarial = consistency_divergence(model, S, probabilities, 2.0, make_generator(0, "cpu"))
    random = torch.stack([divergence_along(torch.randn(256, 6)) for _ in range(20)])
    # The power iteration picks, row by row, a direction q(y|x) is sensitive to.
    assert adversarial > 2 * random.max(), (adversarial, random)
    # No parameter gradient is left behind by the search for the direction.
    assert all(p.grad is None for p in model.parameters())


def test_consistency_under_bfloat16_autocast_is_the_float32_term():
    # The divergence of a small perturbation is below bfloat16's rounding of the
    # logits: under autocast the term must still be computed, and differentiated, in float32.
    model = make_model(n_categories=4, seed=3)
    S = torch.randn(128, 6)
    values, gradients = {}, {}
    for precision in ("float32", "bfloat16"):
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            logits = model.encoder(S)[1]  # a bfloat16 trunk under autocast, as in a phase
            probabilities = torch.softmax(logits, dim=1).detach()
            term = consistency_divergence(model, S, probabilities, 0.5, make_generator(0, "cpu"))
        term.backward()
        values[precision] = term.detach()
        gradients[precision] = model.encoder.category_head.weight.grad.clone()
    assert values["float32"] > 0
    torch.testing.assert_close(values["bfloat16"], values["float32"], rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(gradients["bfloat16"], gradients["float32"], rtol=1e-3, atol=1e-6)


def test_generator_step_adds_the_weighted_consistency_term():
    X = torch.rand(16, 6)
    values = {}
    for weight in (0.0, 3.0):
        model = make_model(n_categories=4, seed=2)
        terms = [losses.FoolPriorAdversary(), losses.FoolCategoryAdversary()]
        if weight:
            terms.append(losses.CategoryConsistency(weight, radius=1.5))
        values[weight] = GeneratorPhase(terms).loss(model, minibatch(X)).detach()
    model = make_model(n_categories=4, seed=2)
    S = model.standardize(X)
    with torch.no_grad():
        probabilities = torch.softmax(model.encoder(S)[1], dim=1)
    # The generator step draws nothing before the term, so the same seed gives the same direction.
    term = consistency_divergence(model, S, probabilities, 1.5, make_generator(0, "cpu"))
    torch.testing.assert_close(values[3.0] - values[0.0], 3.0 * term.detach())
    assert term > 0


def test_labeled_batches_cycle_through_every_labeled_row():
    targets = torch.tensor([-1, 2, -1, 0, 1, -1, 1])
    batches = LabeledBatches(targets, batch_size=2, generator=make_generator(0, "cpu"))
    seen = torch.cat([batches.next_index() for _ in range(2)])
    # Two batches of two cover a shuffled pass over four labeled rows.
    assert sorted(seen.tolist()) == [1, 3, 4, 6]
    assert (targets[seen] >= 0).all()
    small = LabeledBatches(targets, batch_size=100, generator=make_generator(0, "cpu"))
    assert sorted(small.next_index().tolist()) == [1, 3, 4, 6]


def test_semi_supervised_training_learns_labels():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=4.0, size=(3, 6))
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.normal(size=(300, 6))
    targets = np.where(rng.random(300) < 0.1, y, -1)

    model = make_model(n_categories=3)
    trainer = Trainer(model, TrainingConfig(32, 1e-2, 1e-3, 1e-3, input_noise=0.1),
                      make_generator(0, "cpu"))
    history = {}
    trainer.fit(TrainingSet(X, gaussian_prior(), targets=targets), 20,
                callbacks=[History(history)])
    assert list(history) == ["reconstruction", "discriminator", "generator", "supervised"]
    predicted = model.classify(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()
    assert (predicted == y).mean() > 0.9


def test_weight_average_follows_the_warmed_up_exponential_average():
    model = torch.nn.Linear(1, 1, bias=False)
    average = WeightAverage(model, decay=0.9)
    expected = model.weight.detach().item()
    # 100 updates: the warm-up for the first 80, the cap of 0.9 after, since
    # (1 + n) / (10 + n) > 0.9 only for n > 80.
    for n_updates, value in enumerate([1.0, 2.0, -3.0, 4.0, 0.5] * 20, start=1):
        with torch.no_grad():
            model.weight.fill_(value)
        average.update(model)
        decay = min(0.9, (1 + n_updates) / (10 + n_updates))
        expected = decay * expected + (1 - decay) * value
        assert average.model.weight.detach().item() == pytest.approx(expected, abs=1e-6)
    assert average.n_updates == 100
    # The average is a separate copy; training the model does not move it.
    assert average.model.weight is not model.weight


def test_weight_average_state_round_trips():
    model = torch.nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.5)
    start = model.weight.detach().clone()
    state = average.state_dict()
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update(model)
    assert average.n_updates == 1
    average.load_state_dict(state)
    assert average.n_updates == 0
    assert torch.equal(average.model.weight, start)


def test_neighbor_graph_draws_each_row_from_its_own_neighbours():
    indices = torch.tensor([[1, 2, 3], [0, 2, 3], [4, 0, 1], [2, 4, 0], [3, 1, 2]])
    graph = NeighborGraph(indices, "cpu")
    rows = torch.tensor([0, 2, 4] * 200)
    drawn = graph.sample(rows, 3, make_generator(0, "cpu")).reshape(3, -1)
    # Draw by draw, each row gets one of its own neighbours, and over many
    # draws every one of them.
    for draw in drawn:
        for row in (0, 2, 4):
            assert set(draw[rows == row].tolist()) == set(indices[row].tolist())


def test_neighbor_embedding_loss_is_umaps_cross_entropy():
    a, b = KERNEL_A, KERNEL_B
    codes = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    neighbours = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    loss = neighbor_embedding_loss(codes, neighbours, make_generator(0, "cpu"))
    # With two rows every negative pair is the other row (never the row itself).
    attraction = np.log1p(a * np.array([1.0, 4.0]) ** b)
    repulsion = N_NEGATIVES * np.log1p(1 / (a * 25.0 ** b))
    assert float(loss) == pytest.approx(np.mean(attraction + repulsion), rel=1e-5)


def test_neighbor_embedding_loss_averages_over_the_draws():
    # Two neighbours per row, draw by draw: each pair gets its own negatives.
    a, b = KERNEL_A, KERNEL_B
    codes = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    neighbours = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 2.0], [3.0, 5.0]])
    loss = neighbor_embedding_loss(codes, neighbours, make_generator(0, "cpu"))
    attraction = np.log1p(a * np.array([1.0, 4.0, 4.0, 1.0]) ** b)
    repulsion = N_NEGATIVES * np.log1p(1 / (a * 25.0 ** b))
    assert float(loss) == pytest.approx(np.mean(attraction + repulsion), rel=1e-5)


def test_neighbor_embedding_loss_pulls_neighbours_in_and_pushes_the_rest_out():
    generator = make_generator(0, "cpu")
    codes = torch.randn(64, 2, generator=generator).requires_grad_()
    neighbours = codes.detach() + 0.5 * torch.randn(64, 2, generator=generator)
    neighbor_embedding_loss(codes, neighbours, generator).backward()
    step = codes.detach() - 0.01 * codes.grad
    # A step down the gradient moves rows toward their neighbours ...
    before = (codes.detach() - neighbours).norm(dim=1).mean()
    assert (step - neighbours).norm(dim=1).mean() < before
    # ... and spreading the codes out lowers the repulsion between non-neighbours.
    near = neighbor_embedding_loss(codes.detach(), codes.detach(), generator)
    far = neighbor_embedding_loss(10 * codes.detach(), 10 * codes.detach(), generator)
    assert far < 0.1 * near


def test_neighbor_embedding_loss_gradient_is_reproducible_on_large_minibatches():
    # 8 draws of 5 negatives over 2,048 rows: far past the size where torch's
    # CPU backward of advanced indexing accumulates in parallel, out of order.
    codes = torch.randn(2048, 2, generator=make_generator(0, "cpu"))
    noise = torch.randn(8 * 2048, 2, generator=make_generator(1, "cpu"))
    neighbours = codes.repeat(8, 1) + 0.1 * noise
    gradients = []
    for _ in range(5):
        leaf = codes.clone().requires_grad_()
        neighbor_embedding_loss(leaf, neighbours, make_generator(2, "cpu")).backward()
        gradients.append(leaf.grad)
    for gradient in gradients[1:]:
        assert torch.equal(gradient, gradients[0])


def test_reconstruction_step_adds_the_weighted_neighbor_term():
    model = make_model()
    X = torch.rand(16, 6, generator=make_generator(1, "cpu"))
    X_neighbors = X.roll(1, dims=0)
    plain = ReconstructionPhase([losses.Reconstruction()]).loss(model, minibatch(X, seed=2))
    with_term = ReconstructionPhase(
        [losses.Reconstruction(), losses.NeighborEmbedding(2.0)]
    ).loss(model, minibatch(X, X_neighbors=X_neighbors, seed=2))
    Z = model.encode(X).detach()
    term = neighbor_embedding_loss(Z, model.encode(X_neighbors).detach(), make_generator(2, "cpu"))
    assert float(with_term.detach()) == pytest.approx(float(plain) + 2.0 * float(term), rel=1e-5)


def test_neighbor_agreement_is_minus_the_log_of_a_shared_category():
    # Two rows, two neighbour draws each, laid out draw by draw.
    q = torch.tensor([[0.9, 0.1], [0.2, 0.8],      # the rows
                      [0.8, 0.2], [0.5, 0.5],      # first draw
                      [0.1, 0.9], [0.3, 0.7]])     # second draw
    batch = Minibatch(X=torch.zeros(2, 6), X_in=torch.zeros(2, 6), Z_prior=torch.zeros(2, 2))
    encoded = Encoded(Z=torch.zeros(6, 2), logits=q.log(), categories=q)
    shared = np.array([0.9 * 0.8 + 0.1 * 0.2, 0.2 * 0.5 + 0.8 * 0.5,
                       0.9 * 0.1 + 0.1 * 0.9, 0.2 * 0.3 + 0.8 * 0.7])
    term = losses.NeighborAgreement(2.0)
    assert float(term(None, batch, encoded)) == pytest.approx(-2 * np.log(shared).mean(), rel=1e-6)
    # Neighbours sure of the same category cost nothing; of different ones, a lot.
    sure = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    agreeing = Encoded(Z=torch.zeros(4, 2), categories=sure)
    assert float(term(None, batch, agreeing)) == pytest.approx(0.0, abs=1e-6)
    disagreeing = Encoded(Z=torch.zeros(4, 2), categories=sure[[0, 1, 1, 0]])
    assert float(term(None, batch, disagreeing)) > 30
