"""Sparse voxel keys and connected components: the 3D grid the segmenter clusters on and fusion stores objects in."""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["voxel_keys", "voxel_centres", "voxel_components", "KEY_BITS", "KEY_BIAS"]

_NEIGHBOURS = np.array([(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)
                        if (dx, dy, dz) > (0, 0, 0)], dtype=np.int64)  # 13: each pair once
KEY_BITS = 21  # bits per axis in a voxel key
KEY_BIAS = 1 << (KEY_BITS - 1)  # keys are biased so negative coordinates stay positive


def voxel_keys(points: np.ndarray, size: float) -> np.ndarray:
    """One int64 key per point for its voxel of side ``size`` (keys of neighbours differ predictably)."""
    ijk = np.floor(np.asarray(points, dtype=np.float64) / size).astype(np.int64) + KEY_BIAS
    return (ijk[:, 0] << (2 * KEY_BITS)) | (ijk[:, 1] << KEY_BITS) | ijk[:, 2]


def voxel_centres(keys: np.ndarray, size: float) -> np.ndarray:
    """World centres ``(N, 3)`` of voxels given by ``voxel_keys``."""
    mask = (1 << KEY_BITS) - 1
    k = np.asarray(keys, dtype=np.int64)
    ijk = np.stack([(k >> (2 * KEY_BITS)) & mask, (k >> KEY_BITS) & mask, k & mask], axis=1) - KEY_BIAS
    return (ijk.astype(np.float64) + 0.5) * size


def voxel_components(points: np.ndarray, size: float) -> np.ndarray:
    """Connected-component label per point: points whose voxels touch (26-neighbourhood) share one."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = voxel_keys(points, size)
    uniq, inverse = np.unique(keys, return_inverse=True)
    n = len(uniq)
    offsets = (_NEIGHBOURS[:, 0] << (2 * KEY_BITS)) + (_NEIGHBOURS[:, 1] << KEY_BITS) + _NEIGHBOURS[:, 2]
    rows, cols = [], []
    for off in offsets.tolist():
        nb = uniq + off
        idx = np.searchsorted(uniq, nb)
        idx[idx >= n] = n - 1
        hit = uniq[idx] == nb
        if hit.any():
            rows.append(np.nonzero(hit)[0])
            cols.append(idx[hit])
    if rows:
        r, c = np.concatenate(rows), np.concatenate(cols)
        graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
    else:
        comp = np.arange(n)
    return comp[inverse.ravel()]
