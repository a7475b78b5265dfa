"""Reading point clouds and meshes from ``.npy``, ``.ply`` and ``.off`` files, and
sampling points on a mesh's surface.

A file gives ``(points, faces)``: the vertices (or points) as a float array of
shape ``(n, 3)`` and the triangles as an int array of shape ``(m, 3)``, empty
for a plain point cloud. Polygons with more corners are split into triangles
around their first corner.
"""

import numpy as np

#: PLY property types -> numpy type codes.
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}

_NO_FACES = np.zeros((0, 3), dtype=np.int64)


def _triangles(polygons):
    """Triangles of polygons (sequences of corner indices), split around the first corner."""
    triangles = [
        (polygon[0], polygon[i], polygon[i + 1])
        for polygon in polygons for i in range(1, len(polygon) - 1)
    ]
    return np.asarray(triangles, dtype=np.int64).reshape(-1, 3)


def read_off(path):
    """Vertices and triangles of an ASCII ``.off`` mesh (ModelNet's format)."""
    with open(path) as file:
        tokens = file.read().split()
    if not tokens or not tokens[0].startswith("OFF"):
        raise ValueError(f"{path} is not an OFF file: it does not start with 'OFF'.")
    # ModelNet writes the counts right after the keyword on some files ("OFF490 518 0").
    rest = [tokens[0][3:]] + tokens[1:] if tokens[0] != "OFF" else tokens[1:]
    n_vertices, n_faces = int(rest[0]), int(rest[1])
    values = rest[3:]
    vertices = np.asarray(values[:3 * n_vertices], dtype=np.float64).reshape(n_vertices, 3)
    position, polygons = 3 * n_vertices, []
    for _ in range(n_faces):
        n_corners = int(values[position])
        polygons.append([int(v) for v in values[position + 1:position + 1 + n_corners]])
        position += 1 + n_corners
    return vertices, _triangles(polygons)


def _ply_header(file, path):
    """The format and the elements (name, count, properties) of a PLY header."""
    if file.readline().strip() != b"ply":
        raise ValueError(f"{path} is not a PLY file: it does not start with 'ply'.")
    fmt, elements = None, []
    for line in iter(file.readline, b""):
        words = line.decode("ascii").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            return fmt, elements
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            elements[-1][2].append(words[1:])
    raise ValueError(f"{path} has no end_header line.")


def read_ply(path):
    """Vertices and triangles of a ``.ply`` file, ASCII or binary."""
    with open(path, "rb") as file:
        fmt, elements = _ply_header(file, path)
        body = file.read()
    if fmt == "ascii":
        return _read_ply_ascii(body.decode("ascii").split(), elements)
    if fmt not in ("binary_little_endian", "binary_big_endian"):
        raise ValueError(f"{path} has an unknown PLY format {fmt!r}.")
    return _read_ply_binary(body, elements, "<" if fmt == "binary_little_endian" else ">")


def _read_ply_ascii(tokens, elements):
    position, vertices, polygons = 0, None, []
    for name, count, properties in elements:
        if all(prop[0] != "list" for prop in properties):
            width = len(properties)
            block = np.asarray(tokens[position:position + count * width], dtype=np.float64)
            position += count * width
            if name == "vertex":
                names = [prop[-1] for prop in properties]
                block = block.reshape(count, width)
                vertices = block[:, [names.index(axis) for axis in "xyz"]]
            continue
        for _ in range(count):  # elements with a list (faces): one row at a time
            row = []
            for prop in properties:
                if prop[0] == "list":
                    n_items = int(tokens[position])
                    row = [int(v) for v in tokens[position + 1:position + 1 + n_items]]
                    position += 1 + n_items
                else:
                    position += 1
            if name == "face":
                polygons.append(row)
    return vertices, _triangles(polygons)


def _read_ply_binary(body, elements, order):
    position, vertices, faces = 0, None, _NO_FACES
    for name, count, properties in elements:
        if all(prop[0] != "list" for prop in properties):
            dtype = np.dtype([(prop[1], order + _PLY_TYPES[prop[0]]) for prop in properties])
            block = np.frombuffer(body, dtype=dtype, count=count, offset=position)
            position += count * dtype.itemsize
            if name == "vertex":
                vertices = np.stack([block[axis] for axis in "xyz"], axis=1).astype(np.float64)
            continue
        if name != "face" or len(properties) != 1:
            raise ValueError(f"PLY element {name!r} with list properties is not supported.")
        _, count_type, index_type, _ = properties[0]
        count_dtype = np.dtype(order + _PLY_TYPES[count_type])
        index_dtype = np.dtype(order + _PLY_TYPES[index_type])
        polygons = []
        for _ in range(count):
            n_corners = int(np.frombuffer(body, count_dtype, 1, position)[0])
            position += count_dtype.itemsize
            polygons.append(np.frombuffer(body, index_dtype, n_corners, position).tolist())
            position += n_corners * index_dtype.itemsize
        faces = _triangles(polygons)
    return vertices, faces


def read_points(path):
    """``(points, triangles)`` of a ``.npy``, ``.ply`` or ``.off`` file."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        points = np.load(path, allow_pickle=False)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"{path} holds an array of shape {points.shape}; expected (n, 3).")
        return points.astype(np.float64), _NO_FACES
    if suffix == ".ply":
        points, faces = read_ply(path)
    elif suffix == ".off":
        points, faces = read_off(path)
    else:
        raise ValueError(f"{path}: expected a .npy, .ply or .off file.")
    if points is None:
        raise ValueError(f"{path} has no vertex element.")
    return points, faces


def sample_surface(vertices, triangles, n_points, rng):
    """``n_points`` points drawn uniformly on the surface of a triangle mesh."""
    corners = vertices[triangles]
    areas = 0.5 * np.linalg.norm(
        np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
    )
    if not areas.sum() > 0:
        raise ValueError("The mesh has no surface: every triangle has zero area.")
    chosen = rng.choice(len(triangles), size=n_points, p=areas / areas.sum())
    # Uniform barycentric coordinates: fold the unit square onto the triangle.
    u, v = rng.random((2, n_points))
    outside = u + v > 1
    u[outside], v[outside] = 1 - u[outside], 1 - v[outside]
    a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)
