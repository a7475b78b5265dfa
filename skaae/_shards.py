"""Read one rank's rows of a table, without holding the others in memory.

A distributed fit gives rank ``r`` of ``n`` the rows ``r, r + n, r + 2n,
...`` of the table (a strided shard: every rank gets rows from the whole
file, so a table sorted by class still gives each rank every class). A
``.npy`` file, and an ``.npz`` member stored without compression, are
memory-mapped and only the shard's rows are copied; CSV and Parquet files
are streamed and only the shard's rows are kept.
"""

import itertools
import zipfile
from pathlib import Path

import numpy as np

TABLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")
# Rows a Parquet file is streamed in.
PARQUET_BATCH_ROWS = 65_536


def read_shard(path, rank=0, n_shards=1, *, key=None, labels=None):
    """Rows ``rank::n_shards`` of the table at ``path``, and their labels.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` array, an ``.npz`` archive, a CSV file (numbers, an
        optional header row) or a Parquet file (numeric columns; needs
        pyarrow).
    rank, n_shards : int, default=0, 1
        Which shard to read, of how many.
    key : str, default=None
        The archive member holding the rows (``.npz`` only); by default
        ``"X"``, or the archive's only member.
    labels : str, default=None
        Where the labels are: the path of a ``.npy`` array of them (beside a
        ``.npy`` table), the archive member (``.npz``) or the column
        (CSV with a header, Parquet), which is then not a feature.

    Returns
    -------
    X : ndarray of shape (n_shard_rows, n_features)
        The shard's rows; each row of an array of more than two dimensions
        (images) is flattened.
    y : ndarray of shape (n_shard_rows,) or None
    n_rows : int
        Rows of the whole table.
    """
    path = Path(path)
    if path.suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"{path}: expected one of {', '.join(TABLE_SUFFIXES)}; got "
            f"{path.suffix or 'no suffix'!r}."
        )
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    if not 0 <= rank < n_shards:
        raise ValueError(f"rank={rank} must be in [0, {n_shards}).")
    reader = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv,
              ".parquet": _read_parquet}[path.suffix]
    X, y, n_rows = reader(path, rank, n_shards, key, labels)
    if X.ndim < 2:
        raise ValueError(f"{path}: expected a 2-D table, got an array of shape {X.shape}.")
    X = X.reshape(len(X), -1)  # images and other arrays of rows: one row each
    if y is not None and len(y) != len(X):
        raise ValueError(f"{path}: {len(y)} labels for {len(X)} rows.")
    return X, y, n_rows


def _rows(array, rank, n_shards):
    """The shard's rows of a (memory-mapped) array, copied into memory."""
    return np.array(array[rank::n_shards])


def _read_npy(path, rank, n_shards, key, labels):
    if key is not None:
        raise ValueError(
            f"{path}: key={key!r} names a member of an .npz archive, but this is an .npy file."
        )
    table = np.load(path, mmap_mode="r", allow_pickle=False)
    X = _rows(table, rank, n_shards)
    y = None
    if labels is not None:
        label_array = np.load(labels, mmap_mode="r", allow_pickle=False)
        if len(label_array) != len(table):
            raise ValueError(
                f"{labels}: {len(label_array)} labels for the {len(table)} rows of {path}."
            )
        y = _rows(label_array, rank, n_shards)
    return X, y, len(table)


def _npz_member(archive, path, name):
    """Member ``name`` of an open ``.npz`` archive: memory-mapped when stored
    without compression, read whole otherwise."""
    entry = f"{name}.npy"
    if entry not in archive.namelist():
        members = [member[:-4] for member in archive.namelist() if member.endswith(".npy")]
        raise ValueError(f"{path}: no member {name!r}; it holds {members}.")
    info = archive.getinfo(entry)
    if info.compress_type != zipfile.ZIP_STORED:
        with archive.open(entry) as file:
            return np.lib.format.read_array(file, allow_pickle=False)
    with open(path, "rb") as file:
        # The member's data follow its local header: 30 bytes, its name and extra field.
        file.seek(info.header_offset + 26)
        name_length, extra_length = np.frombuffer(file.read(4), dtype="<u2")
        file.seek(info.header_offset + 30 + int(name_length) + int(extra_length))
        version = np.lib.format.read_magic(file)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(file)
        offset = file.tell()
    if dtype.hasobject:
        raise ValueError(f"{path}: member {name!r} holds Python objects, not numbers.")
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, offset=offset,
                     order="F" if fortran_order else "C")


def _read_npz(path, rank, n_shards, key, labels):
    with zipfile.ZipFile(path) as archive:
        members = [member[:-4] for member in archive.namelist() if member.endswith(".npy")]
        if key is None:
            key = "X" if "X" in members or len(members) != 1 else members[0]
        table = _npz_member(archive, path, key)
        X = _rows(table, rank, n_shards)
        y = None
        if labels is not None:
            label_array = _npz_member(archive, path, labels)
            if len(label_array) != len(table):
                raise ValueError(
                    f"{path}: member {labels!r} has {len(label_array)} labels for the "
                    f"{len(table)} rows of {key!r}."
                )
            y = _rows(label_array, rank, n_shards)
    return X, y, len(table)


def _read_csv(path, rank, n_shards, key, labels):
    if key is not None:
        raise ValueError(
            f"{path}: key={key!r} names a member of an .npz archive, but this is a CSV file."
        )
    with open(path, encoding="utf-8") as file:
        first = file.readline()
        fields = [field.strip() for field in first.strip().split(",")]
        try:
            [float(field) for field in fields]
            names, data = None, itertools.chain([first], file)
        except ValueError:
            names, data = fields, file
        kept, n_rows = [], 0
        for line in data:
            if not line.strip():
                continue
            if n_rows % n_shards == rank:
                kept.append(line)
            n_rows += 1
    try:
        table = np.loadtxt(kept, delimiter=",", ndmin=2) if kept else np.empty((0, len(fields)))
    except ValueError as exc:
        raise ValueError(f"{path}: every field after the header must be a number ({exc}).")
    return _split_label_column(path, table, names, labels) + (n_rows,)


def _split_label_column(path, table, names, labels):
    if labels is None:
        return table, None
    if names is None or labels not in names:
        raise ValueError(
            f"{path}: no column named {labels!r} in the header "
            f"{names or '(there is no header row)'}."
        )
    column = names.index(labels)
    return np.delete(table, column, axis=1), table[:, column]


def _read_parquet(path, rank, n_shards, key, labels):
    if key is not None:
        raise ValueError(
            f"{path}: key={key!r} names a member of an .npz archive, but this is a Parquet file."
        )
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError("Reading Parquet files needs pyarrow: pip install pyarrow") from exc
    source = pq.ParquetFile(path)
    names = source.schema_arrow.names
    if labels is not None and labels not in names:
        raise ValueError(f"{path}: no column named {labels!r} in {names}.")
    features = [name for name in names if name != labels]
    tables, label_parts, n_rows = [], [], 0
    for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        # The first row of this batch that belongs to the shard, then every n_shards-th.
        rows = slice((rank - n_rows) % n_shards, None, n_shards)
        columns = [batch.column(name).to_numpy(zero_copy_only=False)[rows] for name in features]
        tables.append(np.column_stack(columns) if columns else np.empty((0, 0)))
        if labels is not None:
            label_parts.append(batch.column(labels).to_numpy(zero_copy_only=False)[rows])
        n_rows += batch.num_rows
    table = np.concatenate(tables) if tables else np.empty((0, len(features)))
    if table.dtype.kind not in "biuf":
        raise ValueError(f"{path}: every feature column must be numeric; got {table.dtype}.")
    y = np.concatenate(label_parts) if labels is not None and label_parts else None
    return table.astype(np.float64, copy=False), y, n_rows
