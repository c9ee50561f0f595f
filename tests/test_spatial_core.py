"""Building blocks of the spatial ABM: counter-based RNG, ADI field solver, spec validation, coarse-grained table."""

import numpy as np
import pytest

from nksim.errors import InputError
from nksim.spatial.fields import field_step
from nksim.spatial.rng import geometric_budget, poisson_small, uniform, uniforms
from nksim.spec.spatial import SpatialSpec, builtin_spatial_scenarios, load_spatial_spec, spec_from_dict


def test_uniform_is_keyed_and_uniform():
    ids = np.arange(200_000, dtype=np.int64)
    u = uniforms(7, ids, 3, 0)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.003 and abs(u.var() - 1 / 12) < 0.002
    h = np.histogram(u, bins=20, range=(0, 1))[0]
    chi2 = ((h - h.mean()) ** 2 / h.mean()).sum()
    assert chi2 < 45  # 19 dof, p ~ 1e-3
    assert np.array_equal(u, uniforms(7, ids, 3, 0))           # same key, same draw
    assert not np.any(u == uniforms(7, ids, 4, 0))              # another step: other draws
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01        # neighbouring ids uncorrelated
    assert uniform(1, 2, 3, 4) != uniform(2, 2, 3, 4)


def test_poisson_and_geometric_draws():
    u = uniforms(1, np.arange(100_000, dtype=np.int64), 0, 9)
    pois = np.array([poisson_small(0.7, x) for x in u])
    assert abs(pois.mean() - 0.7) < 0.01 and abs(pois.var() - 0.7) < 0.02
    geo = np.array([geometric_budget(4.0, x) for x in u])
    assert geo.min() == 1 and abs(geo.mean() - 4.0) < 0.05  # kappa = 4 kills per killing NK on average


def _line_problem(dt, steps=300):
    nx, ny = 160, 3
    cell = np.zeros(nx * ny, np.int8)
    cell.reshape(ny, nx)[:, 0] = 4  # vessel column
    F = np.zeros((1, nx * ny))
    D, lam, dx = 1e5, 10.0, 20.0
    table = np.array([[lam, 0.0, 0.0, 0.0, 1000.0, 38.0]])
    for _ in range(steps):
        field_step(F, cell, np.zeros_like(F), np.array([D]), table, dt, dx, (nx, ny, 1))
    return F[0].reshape(ny, nx)[1], np.sqrt(D / lam) / dx


def test_field_steady_state_is_dt_independent_and_matches_analytic_decay():
    a, L = _line_problem(0.05)
    b, _ = _line_problem(20.0)
    assert np.allclose(a, b, rtol=1e-6, atol=1e-9)
    x = np.arange(0, 30)
    expected = a[0] * np.exp(-x / L)
    assert np.allclose(a[:30], expected, rtol=0.03, atol=1e-3)


def test_pure_diffusion_conserves_mass_and_stays_positive():
    nx, ny, nz = 12, 10, 8
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    smooth = (1 + np.cos(x / nx * np.pi) * np.cos(y / ny * np.pi) * np.cos(z / nz * np.pi)).ravel()
    F = np.vstack([smooth, 2 * smooth])
    m0 = F.sum(axis=1)
    table = np.zeros((2, 6))
    for _ in range(20):
        field_step(F, np.zeros(nx * ny * nz, np.int8), np.zeros_like(F), np.array([3000.0, 1e5]), table, 10.0, 20.0,
                   (nx, ny, nz))
    assert np.allclose(F.sum(axis=1), m0, rtol=1e-9)  # zero-flux walls, no reaction: mass kept
    assert F.min() >= 0
    assert F[0].std() < 0.5 * smooth.std() and F[1].std() < 2 * smooth.std()  # diffusion flattens, never amplifies


def test_builtin_scenarios_load_and_bad_input_names_the_field():
    names = builtin_spatial_scenarios()
    assert {"hcc-gpc3-car", "in-vitro-serial-killing"} <= set(names)
    for n in names:
        assert isinstance(load_spatial_spec(n), SpatialSpec)
    with pytest.raises(InputError, match="scenario"):
        load_spatial_spec("no-such-scenario")
    with pytest.raises(InputError, match="car_targets"):
        spec_from_dict({"product": {"car_targets": ["NOPE"]}})
    with pytest.raises(InputError, match="chemokine_receptor"):
        spec_from_dict({"product": {"chemokine_receptor": "CXCR9"}})
    with pytest.raises(InputError, match="voxel_um"):
        spec_from_dict({"tissue": {"voxel_um": 50}})
    with pytest.raises(InputError, match="tissue"):
        spec_from_dict({"product": {"car_targets": ["GPC3"]}, "tissue": {"antigens": []}})
    with pytest.raises(InputError, match="time"):
        spec_from_dict({"time": {"dt_nk_min": 1.0, "dt_field_min": 2.5}})


def test_receptor_matching_uses_catalog():
    s = load_spatial_spec("hcc-gpc3-car")
    assert not s.receptor_matches()
    assert s.with_updates(**{"product.chemokine_receptor": "CXCR2"}).receptor_matches()     # CXCL1/8 in HCC
    assert not s.with_updates(**{"product.chemokine_receptor": "CXCR5"}).receptor_matches()  # CXCL13: lymphoma


def test_coarse_grained_table_has_engine_columns_and_sane_values():
    from nksim.spatial.coarse import PARAMETER_COLUMNS, load_table, lookup

    tab = load_table()
    for c in PARAMETER_COLUMNS:
        assert c in tab.columns
        assert np.all(np.isfinite(tab[c].astype(float))) and np.all(tab[c].astype(float) >= 0)
    assert np.all(tab.exhausted_fraction.astype(float) <= 1)
    # TGF-beta lowers natural-cytotoxicity killing of unarmored NK; dnTGFBR2 restores it (table rows)
    plain = tab[(tab.il15 == "none") & (tab.dntgfbr2.astype(str) == "False") & (tab.antigen_fraction == 0.5)
                & (tab.o2_consumption_scale == 0.3)].sort_values("tgfb_ng_ml")
    assert plain.k_nat_eff.iloc[0] > plain.k_nat_eff.iloc[-1]
    p = lookup(10.0, 0.0, 0.5, "none", False)
    q = lookup(10.0, 0.0, 0.5, "none", True)
    assert q["k_nat_eff"] > p["k_nat_eff"]
    with pytest.raises(InputError, match="armoring"):
        lookup(2.0, 0.5, 0.5, "membrane", True, "CXCR4")


def test_scenario_from_yaml_path(tmp_path):
    import yaml

    data = load_spatial_spec("hcc-gpc3-car").model_dump(mode="json")
    data["name"] = "my-region"
    data["product"]["dntgfbr2"] = True
    p = tmp_path / "region.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    s = load_spatial_spec(p)
    assert s.name == "my-region" and s.product.dntgfbr2
    p.write_text("tissue: {dims: 2, size: [10, 10, 10]}\n", encoding="utf-8")
    with pytest.raises(InputError, match="tissue"):
        load_spatial_spec(p)


def test_depth_from_margin_reaches_the_tumor_centre():
    from nksim.spatial.tissue import build_tissue, depth_map, lattice_shape

    spec = load_spatial_spec("hcc-gpc3-car").with_updates(**{"tissue.size": (100, 100)})
    cell, _ = build_tissue(spec, 0)
    d = depth_map(cell, lattice_shape(spec), spec.tissue.voxel_um)
    radius_um = spec.tissue.tumor_radius_fraction * 50 * spec.tissue.voxel_um
    assert 0.85 * radius_um < d.max() < 1.1 * radius_um
    assert d.min() < 0  # outside the mass
