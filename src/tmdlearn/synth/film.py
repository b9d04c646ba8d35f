"""MOCVD MoS2 growth -> latent film state -> AFM height maps, with stored ground truth.

The chain is: growth parameters (temperature °C, Mo precursor flux, H2S/Mo ratio, time min)
-> a latent film state (coverage, nucleation density µm⁻², domain shape, bilayer fraction,
point-defect density cm⁻², strain %, doping 10¹³ cm⁻², substrate terrace width nm)
-> a rendered film (layer number and grain label per pixel) -> an AFM height map in nm with
sapphire terraces, particles, scanner tilt and bow, line offsets and noise.

Domains grow as convex polygons between a triangle and a hexagon (a truncated triangle),
nucleated at random and grown to the planted coverage (:mod:`tmdlearn.synth.domains`). The
physics and its literature sources are in docs/synthetic-data.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tmdlearn.data import HeightMap
from tmdlearn.synth.domains import FilmMorphology, grow_film, smooth_noise

#: Boltzmann constant, eV/K.
K_B_EV = 8.617333e-5
#: c-plane sapphire single step height c/6, nm (c = 1.2991 nm).
SAPPHIRE_STEP_NM = 0.2165
#: AFM step of a MoS2 monolayer on sapphire, nm; interlayer spacing of 2H-MoS2, nm.
MONOLAYER_NM = 0.70
INTERLAYER_NM = 0.615

LOCATIONS = ("center", "edge")


@dataclass(frozen=True)
class GrowthParameters:
    """One MOCVD run.

    Attributes
    ----------
    temperature_c : float
        Growth temperature, °C.
    mo_flux : float
        Mo precursor flux, relative to the reference recipe.
    s_mo_ratio : float
        H2S/Mo molar ratio.
    time_min : float
        Growth time, min.
    """

    temperature_c: float
    mo_flux: float
    s_mo_ratio: float
    time_min: float


@dataclass(frozen=True)
class FilmState:
    """The latent state of the film at one location (what every measurement shares).

    Attributes
    ----------
    coverage : float
        Substrate fraction covered by film (0-1).
    nucleation_density_um2 : float
        Nuclei per µm².
    domain_size_nm : float
        sqrt(coverage / nucleation density), nm.
    hexagonality : float
        0 triangle .. 1 hexagon.
    orientation_spread_deg : float
        In-plane misorientation of domains about the epitaxial directions, degrees.
    bilayer_fraction : float
        Fraction of the covered area with a second layer.
    defect_density_cm2 : float
        Sulfur-vacancy density, cm⁻².
    strain_pct : float
        Biaxial tensile strain, %.
    doping_1e13_cm2 : float
        Electron density, 10¹³ cm⁻².
    terrace_width_nm : float
        Sapphire step spacing, nm.
    particle_density_um2 : float
        Precursor/oxide particles per µm².
    edge_roughness_nm : float
        Domain edge roughness, nm.
    """

    coverage: float
    nucleation_density_um2: float
    domain_size_nm: float
    hexagonality: float
    orientation_spread_deg: float
    bilayer_fraction: float
    defect_density_cm2: float
    strain_pct: float
    doping_1e13_cm2: float
    terrace_width_nm: float
    particle_density_um2: float
    edge_roughness_nm: float

    def to_dict(self) -> dict[str, float]:
        """The state's fields as plain floats.

        Returns
        -------
        dict
            Value by field name.
        """
        return {k: float(v) for k, v in asdict(self).items()}


def sample_growth(seed=None) -> GrowthParameters:
    """Draw one growth recipe from the campaign's design space (log-uniform flux, ratio, time).

    Parameters
    ----------
    seed : int or Generator, optional
        Seed or generator of the draw.

    Returns
    -------
    GrowthParameters
        Temperature 550-850 °C, Mo flux 0.25-4, H2S/Mo ratio 100-5000, time 10-120 min.
    """
    rng = np.random.default_rng(seed)
    return GrowthParameters(
        temperature_c=float(rng.uniform(550.0, 850.0)),
        mo_flux=float(np.exp(rng.uniform(np.log(0.25), np.log(4.0)))),
        s_mo_ratio=float(np.exp(rng.uniform(np.log(100.0), np.log(5000.0)))),
        time_min=float(np.exp(rng.uniform(np.log(10.0), np.log(120.0)))),
    )


def _arrhenius(energy_ev: float, temperature_c: float, reference_c: float = 700.0) -> float:
    """exp(E/kB (1/T - 1/T_ref)): > 1 below the reference temperature for E > 0."""
    t, t_ref = temperature_c + 273.15, reference_c + 273.15
    return float(np.exp(energy_ev / K_B_EV * (1.0 / t - 1.0 / t_ref)))


def film_state(growth: GrowthParameters, location: str = "center", seed=None) -> FilmState:
    """The latent film state at ``location`` of a wafer grown with ``growth``.

    The edge sees a depleted precursor flux (x0.6) and a 15 °C cooler susceptor; every quantity
    then carries its own location-to-location scatter drawn from ``seed``.

    Parameters
    ----------
    growth : GrowthParameters
        The growth recipe.
    location : str
        "center" or "edge".
    seed : int or Generator, optional
        Seed or generator of the location's scatter.

    Returns
    -------
    FilmState
    """
    if location not in LOCATIONS:
        raise ValueError(f"location must be one of {LOCATIONS}, got {location!r}")
    rng = np.random.default_rng(seed)
    edge = location == "edge"
    flux = growth.mo_flux * (0.6 if edge else 1.0)
    temp = growth.temperature_c - (15.0 if edge else 0.0)
    ratio = growth.s_mo_ratio

    def scatter(sigma: float) -> float:
        return float(np.exp(rng.normal(0.0, sigma)))

    # Mean-field nucleation theory: N ~ F^(i/(i+2)) exp(E/kT), critical nucleus i = 1.
    nucleation = 40.0 * flux ** (1 / 3) * _arrhenius(1.1, temp) * scatter(0.15)
    # Areal growth rate (monolayer per min): supply limited (flux), thermally activated.
    rate = 0.012 * flux / _arrhenius(0.35, temp) * scatter(0.1)
    coverage = float(np.clip(1.0 - np.exp(-((rate * growth.time_min) ** 1.3)), 0.08, 0.9))
    # Shape: S-rich growth gives triangles, Mo-rich truncated triangles and hexagons.
    hexagonality = float(
        np.clip(1.0 / (1.0 + np.exp(2.2 * (np.log10(ratio) - 2.7))) + rng.normal(0, 0.05), 0, 1)
    )
    orientation = float(np.clip(12.0 * _arrhenius(0.6, temp) * scatter(0.2), 1.0, 30.0))
    # Second layers nucleate once the first layer coalesces, faster under high flux.
    bilayer = float(
        np.clip(0.22 * coverage**3 * flux / (flux + 1.0) * scatter(0.25), 0.0, 0.15)
    )
    # Sulfur vacancies: fewer with more sulfur and at higher temperature.
    defects = 6e12 * (ratio / 700.0) ** -0.5 * _arrhenius(0.4, temp) * scatter(0.25)
    # Sulfur vacancies are donors; the sapphire interface adds a fixed n-doping.
    doping = 0.25 + 0.3 * defects / 1e13 + rng.normal(0.0, 0.05)
    # Thermal-expansion mismatch strain frozen in on cooling, relaxed in small domains.
    domain_size = 1000.0 * np.sqrt(coverage / nucleation)
    relax = domain_size / (domain_size + 150.0)
    strain = 3.0e-6 * (temp - 25.0) * 100.0 * relax + rng.normal(0.0, 0.02)
    particles = 1.5 * flux / _arrhenius(-0.5, temp) * scatter(0.4)
    return FilmState(
        coverage=coverage,
        nucleation_density_um2=float(nucleation),
        domain_size_nm=float(domain_size),
        hexagonality=hexagonality,
        orientation_spread_deg=orientation,
        bilayer_fraction=bilayer,
        defect_density_cm2=float(defects),
        strain_pct=float(strain),
        doping_1e13_cm2=float(max(doping, 0.0)),
        terrace_width_nm=float(np.exp(rng.uniform(np.log(60.0), np.log(250.0)))),
        particle_density_um2=float(particles),
        edge_roughness_nm=float(2.0 + 4.0 * (1.0 - hexagonality) * rng.uniform(0.5, 1.5)),
    )


def substrate_terraces(shape, pixel_size_nm: float, terrace_width_nm: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Sapphire step-terrace surface: straight, slightly wavy steps of one c/6 height.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, pixels.
    pixel_size_nm : float
        Pixel size, nm.
    terrace_width_nm : float
        Step spacing, nm (one step of c/6 each).
    rng : Generator
        Draws the step direction and waviness.

    Returns
    -------
    (ny, nx) array
        Height, nm.
    """
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx] * pixel_size_nm
    phi = rng.uniform(0.0, np.pi)
    wave = smooth_noise(shape, 40.0, rng) * 0.15 * terrace_width_nm
    u = x * np.cos(phi) + y * np.sin(phi) + wave
    return SAPPHIRE_STEP_NM * np.floor(u / terrace_width_nm)


def scanner_artifacts(shape, scan_size_um: float, rng: np.random.Generator) -> np.ndarray:
    """Tilt, bow (grows with the square of the scan size) and line offsets.

    Parameters
    ----------
    shape : (ny, nx)
        Scan lines and pixels per line.
    scan_size_um : float
        Scan size, µm.
    rng : Generator
        Draws tilt, bow, line offsets and glitches.

    Returns
    -------
    (ny, nx) array
        Height, nm.
    """
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx] / max(ny, nx) - 0.5
    tilt = rng.normal(0, 1.5, 2) * scan_size_um
    bow = rng.uniform(0.5, 2.0) * scan_size_um**2
    rows = rng.normal(0.0, 0.08, ny)
    glitches = rng.random(ny) < 0.01
    rows[glitches] += rng.normal(0.0, 0.5, glitches.sum())
    return tilt[0] * x + tilt[1] * y + bow * (x**2 + y**2) + rows[:, None]


def particles(shape, pixel_size_nm: float, density_um2: float, rng: np.random.Generator):
    """Particles (precursor residue, oxide clusters) as Gaussian bumps of 1.5-8 nm height.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, pixels; with the pixel size, the area that sets the expected count.
    pixel_size_nm : float
        Pixel size, nm.
    density_um2 : float
        Mean number of particles per µm² (Poisson).
    rng : Generator
        Draws the number, positions, heights and widths of particles.

    Returns
    -------
    (ny, nx) array
        Height, nm.
    """
    ny, nx = shape
    area_um2 = ny * nx * (pixel_size_nm / 1000.0) ** 2
    count = int(rng.poisson(density_um2 * area_um2))
    out = np.zeros(shape)
    for _ in range(count):
        height = rng.uniform(1.5, 8.0)
        sigma = max(rng.uniform(4.0, 12.0) / pixel_size_nm, 0.6)
        py, px = rng.uniform(0, ny), rng.uniform(0, nx)
        half = int(np.ceil(4 * sigma)) + 1
        y0, y1 = max(int(py) - half, 0), min(int(py) + half + 1, ny)
        x0, x1 = max(int(px) - half, 0), min(int(px) + half + 1, nx)
        yy = np.arange(y0, y1)[:, None] - py
        xx = np.arange(x0, x1)[None, :] - px
        out[y0:y1, x0:x1] += height * np.exp(-(yy**2 + xx**2) / (2 * sigma**2))
    return out


def heights_from_layers(morph: FilmMorphology, monolayer_nm: float = MONOLAYER_NM,
                        interlayer_nm: float = INTERLAYER_NM,
                        boundary_depth_nm: float = 0.12) -> np.ndarray:
    """Film topography: first layer ``monolayer_nm``, each further layer ``interlayer_nm``, grain
    boundaries a shallow groove.

    Parameters
    ----------
    morph : FilmMorphology
        The rendered film (:func:`tmdlearn.synth.domains.grow_film`).
    monolayer_nm : float
        Step height of the first layer, nm.
    interlayer_nm : float
        Step height of each further layer, nm.
    boundary_depth_nm : float
        Depth of the grain-boundary groove, nm.

    Returns
    -------
    (ny, nx) array
        Height, nm (0 on bare substrate).
    """
    layers = morph.layers.astype(float)
    film = np.where(layers > 0, monolayer_nm + (layers - 1) * interlayer_nm, 0.0)
    return film - boundary_depth_nm * morph.grain_boundaries


def render_afm(
    state: FilmState,
    scan_size_um: float = 1.0,
    pixels: int = 512,
    seed=None,
    noise_nm: float = 0.04,
) -> tuple[HeightMap, dict[str, float]]:
    """An AFM height map (nm) of the film of ``state`` and its ground truth.

    Parameters
    ----------
    state : FilmState
        The latent film state at the scanned location.
    scan_size_um : float
        Square scan size, µm (1 µm for morphology, 5 µm overview scans).
    pixels : int
        Pixels per side.
    seed : int or Generator, optional
        Seed or generator of the domains, substrate, particles, scanner and noise.
    noise_nm : float
        White height noise, nm rms.

    Returns
    -------
    height : HeightMap
        Heights, nm.
    truth : dict
        The realised coverage, bilayer fraction, domain and nucleation densities (µm⁻²),
        particle_fraction (pixels under a particle over 0.5 nm) and the film state (``state_*``).
    """
    if scan_size_um <= 0 or pixels < 8:
        raise ValueError("scan_size_um must be positive and pixels at least 8")
    rng = np.random.default_rng(seed)
    shape = (pixels, pixels)
    pixel_nm = scan_size_um * 1000.0 / pixels
    morph = grow_film(state, shape, pixel_nm, rng)
    film = heights_from_layers(morph)
    substrate = substrate_terraces(shape, pixel_nm, state.terrace_width_nm, rng)
    bumps = particles(shape, pixel_nm, state.particle_density_um2, rng)
    height = (substrate + film + bumps + scanner_artifacts(shape, scan_size_um, rng)
              + rng.normal(0.0, noise_nm, shape))
    truth = dict(morph.truth)
    truth["particle_fraction"] = float((bumps > 0.5).mean())
    truth.update({f"state_{k}": v for k, v in state.to_dict().items()})
    meta = {"synthetic": True, "unit": "nm", "scan_size_um": scan_size_um}
    return HeightMap(height.astype(np.float32), pixel_nm, "height", None, meta), truth
