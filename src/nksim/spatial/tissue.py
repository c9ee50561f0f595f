"""Initial tissue: tumor mass (or a filled well), antigen patterns, stroma and vessels on the lattice."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nksim.rng import stream
from nksim.spatial.params import EMPTY, STROMA, TUMOR, VESSEL
from nksim.spec.spatial import SpatialSpec


def lattice_shape(spec: SpatialSpec) -> tuple[int, int, int]:
    s = tuple(spec.tissue.size) + (1,) * (3 - spec.tissue.dims)
    return int(s[0]), int(s[1]), int(s[2])


def _grid(shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """Coordinates of the voxels, flat in the order v = x + nx (y + ny z)."""
    z, y, x = np.meshgrid(np.arange(shape[2]), np.arange(shape[1]), np.arange(shape[0]), indexing="ij")
    return x.ravel(), y.ravel(), z.ravel()


def tumor_mask(spec: SpatialSpec) -> np.ndarray:
    """Voxels of the tumor region (a disk / ball centred in the box, or everything for a filled layout)."""
    shape = lattice_shape(spec)
    if spec.tissue.layout == "filled" or spec.mode == "well_mixed":
        return np.ones(np.prod(shape), dtype=bool)
    x, y, z = _grid(shape)
    c = [(n - 1) / 2.0 for n in shape]
    half = min(n for n, d in zip(shape, range(3)) if d < spec.tissue.dims) / 2.0
    r = spec.tissue.tumor_radius_fraction * half
    d2 = (x - c[0]) ** 2 + (y - c[1]) ** 2
    if spec.tissue.dims == 3:
        d2 = d2 + (z - c[2]) ** 2
    return d2 <= r * r


def build_tissue(spec: SpatialSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Voxel contents (int8) and antigen bit masks (uint8) at t = 0, from numpy streams keyed by the seed."""
    t = spec.tissue
    shape = lattice_shape(spec)
    nvox = int(np.prod(shape))
    rng = stream(seed, "spatial.tissue")
    inside = tumor_mask(spec)
    cell = np.full(nvox, EMPTY, dtype=np.int8)
    u = rng.random(nvox)
    if spec.mode == "well_mixed":
        cell[u < t.tumor_density] = TUMOR
    else:
        cell[inside & (u < t.tumor_density)] = TUMOR
        cell[inside & (u >= 1.0 - t.stroma_in_tumor)] = STROMA
        cell[~inside & (u < t.stroma_outside)] = STROMA
        # vessels
        area_mm = nvox * (t.voxel_um / 1000.0) ** t.dims
        n_v = int(round(t.vessel_density_per_mm2 * area_mm))
        if t.vessel_layout != "none" and n_v > 0:
            allowed = np.ones(nvox, dtype=bool) if t.vessel_layout == "uniform" else ~inside
            idx = np.flatnonzero(allowed)
            if t.vessel_layout == "peripheral":
                n_v = int(round(t.vessel_density_per_mm2 * area_mm * idx.size / nvox))
            n_v = min(n_v, idx.size)
            cell[rng.choice(idx, size=n_v, replace=False)] = VESSEL
    ag = np.zeros(nvox, dtype=np.uint8)
    is_tumor = cell == TUMOR
    for bit, a in enumerate(t.antigens):
        if a.pattern == "mixed" or spec.mode == "well_mixed":
            score = rng.random(nvox)
        else:
            noise = rng.standard_normal(shape[::-1])
            sigma = a.patch_um / t.voxel_um
            score = ndimage.gaussian_filter(noise, sigma=sigma, mode="wrap").ravel()
        if is_tumor.any():
            thr = np.quantile(score[is_tumor], 1.0 - a.positive_fraction) if a.positive_fraction < 1 else -np.inf
            pos = is_tumor & (score > thr) if a.positive_fraction > 0 else np.zeros(nvox, dtype=bool)
            ag[pos] |= np.uint8(1 << bit)
    return cell, ag


def depth_map(cell: np.ndarray, shape: tuple[int, int, int], voxel_um: float) -> np.ndarray:
    """Signed distance (um) to the tumor margin: > 0 inside the tumor mass (closed tumor/dead region)."""
    grid = tuple(n for n in shape[::-1] if n > 1) or (1,)  # 2D lattices as 2D arrays (no z axis of length 1)
    solid = ((cell == TUMOR) | (cell == 2)).reshape(grid)
    # the tumor mass: close gaps of a few voxels (stroma strands, vessels, free voxels), then fill enclosed holes
    solid = ndimage.binary_closing(solid, iterations=3, border_value=0) | solid
    solid = ndimage.binary_fill_holes(solid)
    inside = ndimage.distance_transform_edt(solid)
    outside = ndimage.distance_transform_edt(~solid)
    return ((inside - outside) * voxel_um).ravel()
