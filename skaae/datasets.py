"""Loaders for data sets stored on the local disk; nothing is ever downloaded.

:func:`load_mnist` reads MNIST from either a single ``.npz`` file or a folder
holding that file or the four original idx files, and returns it the way
scikit-learn's loaders do: a :class:`~sklearn.utils.Bunch` of flat float
images in [0, 1] and integer labels. The library knows no place where MNIST
lives: the caller passes the path, or names it once in the ``SKAAE_MNIST``
environment variable (:func:`default_mnist_path`).
:func:`load_mnist_or_digits` falls back to scikit-learn's bundled digits
when there is no copy, so that examples run anywhere.

For point clouds (one cloud a row, its points' coordinates one after
another), :func:`make_point_clouds` draws labelled synthetic shapes and
:func:`load_point_clouds` reads a local folder of ``.npy``, ``.ply`` or
``.off`` files, such as ModelNet's.
"""

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ._mesh_io import read_points, sample_surface
from ._validation import check_positive_int, random_seed

__all__ = [
    "SHAPE_FAMILIES",
    "default_mnist_path",
    "load_mnist",
    "load_mnist_or_digits",
    "load_point_clouds",
    "make_point_clouds",
    "read_idx",
]

#: Environment variable naming an MNIST file or folder; read when no path is passed.
MNIST_ENV_VAR = "SKAAE_MNIST"

#: File name looked for first in a folder.
MNIST_NPZ_NAME = "mnist.npz"

#: The original idx files, by split and kind (each may also end in ``.gz``).
MNIST_IDX_NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

#: idx type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def default_mnist_path():
    """Return the MNIST path named by the ``SKAAE_MNIST`` environment variable.

    This is what :func:`load_mnist` and :func:`load_mnist_or_digits` read
    when they are given no path. Set the variable once (``export
    SKAAE_MNIST=/data/mnist.npz``) instead of passing the path to every
    call; the library looks nowhere else.

    Returns
    -------
    path : pathlib.Path or None
        The path named by ``SKAAE_MNIST``, with ``~`` expanded, if the
        variable is set and non-empty (it is not checked here:
        :func:`load_mnist` reports a missing file); otherwise ``None``.

    See Also
    --------
    load_mnist : Load MNIST from such a path.
    """
    env = os.environ.get(MNIST_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return None


def load_mnist(path=None):
    """Load MNIST from a local file or folder as flat images in [0, 1].

    Parameters
    ----------
    path : str or path-like, default=None
        Either a ``.npz`` file with the uint8 arrays ``X_train`` (n, rows,
        cols), ``y_train`` (n,), ``X_test`` and ``y_test``; or a folder
        holding ``mnist.npz`` or the four original idx files
        ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each
        plain or gzipped with a ``.gz`` suffix). ``mnist.npz`` is preferred
        when a folder holds both. ``None`` reads the path from the
        ``SKAAE_MNIST`` environment variable (:func:`default_mnist_path`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X_train : ndarray of shape (60000, 784), dtype float32
            Training images, flattened row by row and scaled by 1/255 into
            [0, 1].
        y_train : ndarray of shape (60000,), dtype int64
            Training labels (digits 0 to 9).
        X_test : ndarray of shape (10000, 784), dtype float32
            Test images, scaled like ``X_train``.
        y_test : ndarray of shape (10000,), dtype int64
            Test labels.
        image_shape : tuple of int
            ``(rows, cols)`` of one image, ``(28, 28)`` for MNIST; reshape a
            row with ``X_train[i].reshape(data.image_shape)``.

        The row counts are those found in the files.

    Raises
    ------
    FileNotFoundError
        If ``path`` is ``None`` and ``SKAAE_MNIST`` is not set (the message
        says what to pass), if ``path`` does not exist, or if a folder holds
        neither ``mnist.npz`` nor all four idx files; the message names what
        was looked for.
    ValueError
        If a file is malformed: a bad idx magic number or size, a ``.npz``
        file lacking a key, arrays of the wrong shape or type, or image and
        label counts that disagree.

    See Also
    --------
    default_mnist_path : The path read when ``path`` is None.

    Examples
    --------
    >>> from skaae.datasets import load_mnist
    >>> mnist = load_mnist("mnist.npz")  # doctest: +SKIP
    >>> mnist.X_train.shape, mnist.X_train.dtype, mnist.image_shape  # doctest: +SKIP
    ((60000, 784), dtype('float32'), (28, 28))
    """
    path = _resolve_mnist_path(path)
    if path.is_dir():
        arrays = _load_mnist_dir(path)
    elif path.is_file():
        arrays = _load_mnist_npz(path)
    else:
        raise FileNotFoundError(
            f"MNIST not found: {path} does not exist (expected a .npz file or a "
            f"folder holding {MNIST_NPZ_NAME} or the four idx files)."
        )
    return _to_bunch(arrays, path)


def load_mnist_or_digits(source="auto", *, path=None, n_train=None, n_test=None):
    """Load MNIST when a local copy is found, scikit-learn's digits otherwise.

    The examples of the documentation reproduce the paper's MNIST figures
    where MNIST is on the disk and still run, on the 8x8 digits, where it is
    not: this loader returns either in the same form.

    Parameters
    ----------
    source : {"auto", "mnist", "digits"}, default="auto"
        ``"auto"`` loads MNIST when ``path`` exists, the digits otherwise;
        ``"mnist"`` insists on MNIST (and raises like :func:`load_mnist`
        without it); ``"digits"`` always loads the digits, whatever
        ``path`` says.
    path : str or path-like, default=None
        Where MNIST is: a ``.npz`` file or a folder, as for
        :func:`load_mnist`. ``None`` reads the path from the ``SKAAE_MNIST``
        environment variable; with neither, ``"auto"`` loads the digits.
    n_train, n_test : int, default=None
        Keep only the first ``n_train`` training and ``n_test`` test rows;
        None keeps them all. Lower them to make a run on MNIST quicker.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (flat float32
        images in [0, 1] and int64 labels), ``image_shape`` (``(28, 28)`` or
        ``(8, 8)``) and ``name`` (``"MNIST"`` or ``"digits"``). The digits
        are split 70/30, stratified, with a fixed seed.

    Examples
    --------
    >>> from skaae.datasets import load_mnist_or_digits
    >>> data = load_mnist_or_digits("digits")
    >>> data.name, data.image_shape, data.X_train.shape
    ('digits', (8, 8), (1257, 64))
    """
    if source not in ("auto", "mnist", "digits"):
        raise ValueError(f"source must be 'auto', 'mnist' or 'digits'; got {source!r}.")
    if path is None:
        path = default_mnist_path()
    if source == "mnist" or (source == "auto" and path is not None and Path(path).exists()):
        data = load_mnist(path)
        data.name = "MNIST"
    else:
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            (X / 16).astype(np.float32), y.astype(np.int64), test_size=0.3,
            random_state=0, stratify=y,
        )
        data = Bunch(
            X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
            image_shape=(8, 8), name="digits",
        )
    for split, n_rows in (("train", n_train), ("test", n_test)):
        if n_rows is not None:
            data[f"X_{split}"] = data[f"X_{split}"][:n_rows]
            data[f"y_{split}"] = data[f"y_{split}"][:n_rows]
    return data


# --------------------------------------------------------------- locating
def _resolve_mnist_path(path):
    """``path`` as a Path, or the one named by ``SKAAE_MNIST`` when it is None."""
    if path is None:
        path = default_mnist_path()
        if path is None:
            raise FileNotFoundError(
                "No MNIST path given: pass the path of a .npz file or of a folder "
                f"holding {MNIST_NPZ_NAME} or the four idx files, or name it in the "
                f"{MNIST_ENV_VAR} environment variable. Nothing is downloaded."
            )
    return Path(path).expanduser()


def _load_mnist_dir(folder):
    """Raw arrays from ``mnist.npz`` in ``folder``, else from its idx files."""
    npz = folder / MNIST_NPZ_NAME
    if npz.is_file():
        return _load_mnist_npz(npz)
    found, missing = {}, []
    for key, name in MNIST_IDX_NAMES.items():
        candidates = [folder / name, folder / f"{name}.gz"]
        existing = [c for c in candidates if c.is_file()]
        if existing:
            found[key] = existing[0]
        else:
            missing.append(f"{name}[.gz]")
    if missing:
        raise FileNotFoundError(
            f"MNIST not found in {folder}: looked for {MNIST_NPZ_NAME} or the idx files "
            f"{', '.join(f'{n}[.gz]' for n in MNIST_IDX_NAMES.values())}; missing "
            f"{', '.join(missing)}."
        )
    return {
        f"{'X' if kind == 'images' else 'y'}_{split}": read_idx(file)
        for (split, kind), file in found.items()
    }


# ------------------------------------------------------------------ npz
def _load_mnist_npz(file):
    """Raw arrays ``X_train``, ``y_train``, ``X_test``, ``y_test`` of a .npz file."""
    keys = ("X_train", "y_train", "X_test", "y_test")
    try:
        archive = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{file} is not a readable .npz file: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{file} holds a single array, not a .npz archive with {keys}.")
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise ValueError(
                f"{file} lacks the key(s) {missing}; it has {sorted(archive.files)}."
            )
        return {key: archive[key] for key in keys}


# ------------------------------------------------------------------ idx
def read_idx(file):
    """Read one file of the idx format used by the original MNIST files.

    The format: two zero bytes, a type code byte (``0x08`` for unsigned
    bytes), a byte giving the number of dimensions, one big-endian uint32
    per dimension, then the values in C order, big-endian.

    Parameters
    ----------
    file : str or path-like
        The idx file, plain or gzip-compressed (detected from its content).

    Returns
    -------
    array : ndarray
        The values with the shape given in the header, in native byte order.

    Raises
    ------
    ValueError
        If the magic number is wrong or the data size does not match the
        header.
    """
    file = Path(file)
    with open(file, "rb") as fh:
        raw = fh.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{file}: corrupt gzip data: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{file} is not an idx file: bad magic number {raw[:4].hex() or '(empty)'}; "
            "expected 0000 followed by a type code (08 for unsigned bytes) and the "
            "number of dimensions."
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{file}: truncated idx header ({ndim} dimensions announced).")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise ValueError(
            f"{file}: header announces shape {shape} of {dtype.name} ({expected} bytes) "
            f"but {len(raw) - header_size} bytes of data follow."
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


# ------------------------------------------------------------ assembling
def _to_bunch(arrays, source):
    """Check the raw arrays and scale them into the returned Bunch."""
    image_shape = None
    out = {}
    for split in ("train", "test"):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        if X.ndim != 3 or X.dtype != np.uint8:
            raise ValueError(
                f"{source}: X_{split} must be uint8 images of shape (n_samples, rows, "
                f"cols); got {X.dtype} of shape {X.shape}."
            )
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(
                f"{source}: y_{split} must be 1-D integer labels; got {y.dtype} of "
                f"shape {y.shape}."
            )
        if len(X) != len(y):
            raise ValueError(
                f"{source}: {len(X)} images but {len(y)} labels in the {split} split."
            )
        if image_shape is None:
            image_shape = X.shape[1:]
        elif X.shape[1:] != image_shape:
            raise ValueError(
                f"{source}: train images are {image_shape} but test images are "
                f"{X.shape[1:]}."
            )
        flat = X.reshape(len(X), -1).astype(np.float32)
        flat /= np.float32(255)
        out[f"X_{split}"] = flat
        out[f"y_{split}"] = y.astype(np.int64)
    return Bunch(**out, image_shape=tuple(int(s) for s in image_shape))


# ----------------------------------------------------------- point clouds
#: The shape families of :func:`make_point_clouds`, in the order of their labels.
SHAPE_FAMILIES = ("sphere", "torus", "box", "cylinder", "cone")


def _sphere(n_points, rng):
    """An ellipsoid with random semi-axes."""
    directions = rng.standard_normal((n_points, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions * rng.uniform(0.6, 1.0, 3)


def _torus(n_points, rng):
    """A torus around the z axis with random radii, uniform on its surface."""
    major, minor = rng.uniform(0.55, 0.8), rng.uniform(0.12, 0.3)
    theta = rng.uniform(0, 2 * np.pi, n_points)
    # The surface element grows with the distance from the axis: draw the tube
    # angle by rejection so that the points are uniform on the surface.
    phi = np.empty(0)
    while len(phi) < n_points:
        candidates = rng.uniform(0, 2 * np.pi, 2 * n_points)
        keep = rng.uniform(0, major + minor, len(candidates)) < major + minor * np.cos(candidates)
        phi = np.concatenate([phi, candidates[keep]])
    phi = phi[:n_points]
    ring = major + minor * np.cos(phi)
    return np.column_stack([ring * np.cos(theta), ring * np.sin(theta), minor * np.sin(phi)])


def _box(n_points, rng):
    """The surface of a box with random side lengths."""
    half = rng.uniform(0.3, 1.0, 3) / 2
    # Faces drawn by their area: the pair of faces normal to axis k has area 4 * prod/half_k.
    areas = np.prod(half) / half
    axis = rng.choice(3, size=n_points, p=areas / areas.sum())
    points = rng.uniform(-1, 1, (n_points, 3))
    points[np.arange(n_points), axis] = rng.choice([-1.0, 1.0], n_points)
    return points * half


def _cylinder(n_points, rng):
    """A closed cylinder along z with random radius and height."""
    radius, height = rng.uniform(0.25, 0.6), rng.uniform(0.6, 1.6)
    on_side = rng.random(n_points) < height / (height + radius)  # side 2*pi*r*h, caps 2*pi*r^2
    angle = rng.uniform(0, 2 * np.pi, n_points)
    distance = np.where(on_side, radius, radius * np.sqrt(rng.random(n_points)))
    z = np.where(on_side, rng.uniform(-0.5, 0.5, n_points), rng.choice([-0.5, 0.5], n_points))
    return np.column_stack([distance * np.cos(angle), distance * np.sin(angle), z * height])


def _cone(n_points, rng):
    """A closed cone along z with random base radius and height."""
    radius, height = rng.uniform(0.3, 0.7), rng.uniform(0.6, 1.6)
    slant = np.hypot(radius, height)
    on_side = rng.random(n_points) < slant / (slant + radius)  # side pi*r*s, base pi*r^2
    angle = rng.uniform(0, 2 * np.pi, n_points)
    # sqrt: uniform on the area of a disc and of the cone's side alike.
    fraction = np.sqrt(rng.random(n_points))
    z = np.where(on_side, height * (1 - fraction), 0.0) - height / 3
    distance = radius * fraction
    return np.column_stack([distance * np.cos(angle), distance * np.sin(angle), z])


_SHAPE_MAKERS = dict(zip(SHAPE_FAMILIES, (_sphere, _torus, _box, _cylinder, _cone)))


def make_point_clouds(
    n_samples=500, n_points=256, *, shapes=SHAPE_FAMILIES, noise=0.01, random_state=None
):
    """Labelled point clouds of simple shapes, sampled on their surfaces.

    Each cloud is one shape of a family with random proportions (an ellipsoid's
    semi-axes, a torus's radii, a box's sides, a cylinder's or cone's radius
    and height), axis-aligned, with ``n_points`` points drawn uniformly on
    its surface (the torus and boxes exactly, the ellipsoid through scaled
    sphere directions), centred on the middle of its bounding box and
    scaled into the unit ball, as ModelNet's clouds are usually prepared.
    Families take turns, so they are equally represented.

    Parameters
    ----------
    n_samples : int, default=500
        Number of clouds.
    n_points : int, default=256
        Points per cloud.
    shapes : sequence of str, default=SHAPE_FAMILIES
        Families to draw, from ``"sphere"``, ``"torus"``, ``"box"``,
        ``"cylinder"`` and ``"cone"``; the label of a cloud is the index of its
        family in this sequence.
    noise : float, default=0.01
        Standard deviation of Gaussian noise added to every coordinate.
    random_state : int, RandomState instance or None, default=None
        Seeds the shapes, their points and the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, n_points * 3)
        The clouds, one a row: ``(x1, y1, z1, x2, y2, z2, ...)``.
    y : ndarray of int of shape (n_samples,)
        The family of each cloud.

    Examples
    --------
    >>> from skaae.datasets import make_point_clouds
    >>> X, y = make_point_clouds(n_samples=10, n_points=100, random_state=0)
    >>> X.shape, y[:6].tolist()
    ((10, 300), [0, 1, 2, 3, 4, 0])
    """
    unknown = sorted(set(shapes) - set(SHAPE_FAMILIES))
    if unknown or not len(shapes):
        raise ValueError(
            f"shapes must be a non-empty sequence of {SHAPE_FAMILIES}; got {list(shapes)}."
        )
    n_samples = check_positive_int(n_samples, "n_samples")
    n_points = check_positive_int(n_points, "n_points")
    if noise < 0:
        raise ValueError(f"noise must be non-negative; got {noise}.")
    rng = np.random.default_rng(random_seed(random_state))
    y = np.arange(n_samples) % len(shapes)
    clouds = np.empty((n_samples, n_points, 3))
    for i, label in enumerate(y):
        cloud = _SHAPE_MAKERS[shapes[label]](n_points, rng)
        cloud -= (cloud.min(axis=0) + cloud.max(axis=0)) / 2
        clouds[i] = cloud / np.linalg.norm(cloud, axis=1).max()
    clouds += noise * rng.standard_normal(clouds.shape)
    return clouds.reshape(n_samples, -1), y.astype(np.int64)


def load_point_clouds(path, n_points=1024, *, random_state=None):
    """Read a folder of point clouds or meshes, one file a shape.

    Reads every ``.npy`` (an array of shape ``(n, 3)``), ``.ply`` (ASCII or
    binary; vertices, and faces if any) and ``.off`` file below ``path``. A
    file with faces is a mesh: ``n_points`` points are drawn uniformly on its
    surface. A file without faces is a cloud: ``n_points`` of its points are
    drawn without replacement. The label of a file is the name of the
    folder right below ``path`` that holds it, as in ModelNet's layout
    (``ModelNet10/chair/train/chair_0001.off`` is a ``chair``).

    Parameters
    ----------
    path : str or path-like
        The folder (or one file).
    n_points : int or None, default=1024
        Points per returned cloud. None keeps the clouds' points as stored,
        which then must be as many in every file.
    random_state : int, RandomState instance or None, default=None
        Seeds the drawing of points.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (float64 of shape ``(n_files, n_points * 3)``, a cloud a row,
        ``(x1, y1, z1, x2, ...)``), ``y`` (int labels, indices into
        ``target_names``; all 0 when the files sit right in ``path``),
        ``target_names`` and ``filenames`` (sorted).
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"No such file or folder: {root}")
    files = [root] if root.is_file() else sorted(
        file for file in root.rglob("*") if file.suffix.lower() in (".npy", ".ply", ".off")
    )
    if not files:
        raise ValueError(f"{root} holds no .npy, .ply or .off file.")
    if n_points is not None:
        n_points = check_positive_int(n_points, "n_points")
    rng = np.random.default_rng(random_seed(random_state))
    clouds = []
    for file in files:
        points, faces = read_points(file)
        if n_points is None:
            if len(faces):
                raise ValueError(f"{file} is a mesh: pass n_points to sample its surface.")
        elif len(faces):
            points = sample_surface(points, faces, n_points, rng)
        elif len(points) < n_points:
            raise ValueError(
                f"{file} has {len(points)} points, fewer than n_points={n_points}."
            )
        else:
            points = points[rng.choice(len(points), n_points, replace=False)]
        clouds.append(points)
    sizes = sorted({len(cloud) for cloud in clouds})
    if len(sizes) > 1:
        raise ValueError(
            f"The clouds have different numbers of points ({sizes[0]} to {sizes[-1]}); "
            "pass n_points to draw the same number from each."
        )
    folders = [
        file.relative_to(root).parts[0] if len(file.relative_to(root).parts) > 1 else ""
        for file in files
    ] if root.is_dir() else [""]
    target_names, y = np.unique(folders, return_inverse=True)
    return Bunch(
        X=np.stack(clouds).reshape(len(clouds), -1), y=y.astype(np.int64),
        target_names=target_names, filenames=np.array([str(file) for file in files]),
    )
