"""Film state -> Raman (532 nm) and photoluminescence spectra of MOCVD MoS2, with true peaks.

A measurement probes a laser spot: its local coverage and bilayer fraction scatter around the
location's film state, and each spectrum adds its own randomness (collection efficiency,
laser power, shot noise, cosmic-ray spikes, background). Raman shares many factors with the
AFM morphology (coverage, bilayer fraction, domain size through edge disorder, defects, strain,
doping); PL shares few (it is dominated by defects, doping, an unsteady collection efficiency
and the spot's dielectric and adsorbate environment, which shifts the exciton and dopes the
film). Every coefficient and its literature source is in docs/synthetic-data.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tmdlearn.data import Spectra
from tmdlearn.synth.film import FilmState

RAMAN_EXCITATION_NM = 532.0
#: Raman shift axis, cm⁻¹: the first-order range of MoS2 on sapphire, 1600 channels.
RAMAN_AXIS_CM1 = np.linspace(150.0, 650.0, 1600)
#: PL photon-energy axis, eV (800 nm .. 551 nm).
PL_AXIS_EV = np.linspace(1.55, 2.25, 700)

#: MoS2 E2g¹ and A1g frequencies (cm⁻¹) by layer number, unstrained, undoped (Lee et al. 2010).
E2G_CM1 = {1: 385.0, 2: 384.0, 3: 383.5}
A1G_CM1 = {1: 404.0, 2: 405.8, 3: 406.8}
#: Grüneisen parameters under biaxial strain: E2g¹ (Conley et al. 2013), A1g (nearly inert).
GRUNEISEN = {"E2g": 1.06, "A1g": 0.21}
#: A1g softening and broadening per 10¹³ cm⁻² electrons (Chakraborty et al. 2012).
A1G_DOPING_SHIFT_CM1 = -2.2
A1G_DOPING_BROADENING_CM1 = 3.3
#: LA(M)/A1g intensity ratio per defect per nm² (Mignuzzi et al. 2015, I(LA)/I(A1') ∝ 1/L_D²).
LA_RATIO_NM2 = 1.1
#: First-order temperature coefficients, cm⁻¹/K (Sahoo et al. 2013) and heating, K/mW.
TEMPERATURE_COEFF_CM1_K = {"E2g": -0.013, "A1g": -0.016}
HEATING_K_PER_MW = 12.0
#: Sapphire phonons (cm⁻¹) with relative heights (Porto & Krishnan 1967).
SAPPHIRE_LINES = ((378.0, 0.12, 3.0), (418.0, 1.0, 3.0), (576.0, 0.25, 4.0), (645.0, 0.12, 5.0))

#: MoS2 monolayer PL (eV): A exciton, trion below it, B exciton, defect-bound exciton.
PL_A_EV, PL_B_EV, PL_DEFECT_EV = 1.88, 2.03, 1.75
#: Band-gap shift under biaxial strain, eV per % (Lloyd et al. 2016).
PL_STRAIN_EV_PER_PCT = -0.099
#: Per-spot environment (spread of a normal draw): exciton shift by dielectric screening of the
#: substrate and adsorbates, eV (Lin et al. 2014; Buscema et al. 2014), and the charge that
#: physisorbed O2/H2O withdraws or donates, 10¹³ cm⁻² (Tongay et al. 2013).
ENV_EXCITON_SHIFT_EV = 0.012
ENV_DOPING_1E13_CM2 = 0.1


@dataclass(frozen=True)
class Peak:
    """One true peak: ``name``, ``center`` (cm⁻¹ or eV), ``fwhm`` (same unit), ``height``
    (counts), ``shape`` ("lorentzian" or "gaussian")."""

    name: str
    center: float
    fwhm: float
    height: float
    shape: str = "lorentzian"

    def evaluate(self, axis: np.ndarray) -> np.ndarray:
        """The peak's profile on ``axis``.

        Parameters
        ----------
        axis : array
            Raman shift (cm⁻¹) or photon energy (eV), the unit of ``center``.

        Returns
        -------
        array
            Counts, of the shape of ``axis``.
        """
        u = (axis - self.center) / (self.fwhm / 2.0)
        if self.shape == "gaussian":
            return self.height * np.exp(-np.log(2.0) * u**2)
        return self.height / (1.0 + u**2)


def local_spot(state: FilmState, seed=None) -> dict[str, float]:
    """The film under one laser spot (~1 µm): scatter of coverage, bilayers, defects, strain and
    doping around the location's state.

    Parameters
    ----------
    state : FilmState
        The location's film state.
    seed : int or Generator, optional
        Seed or generator of the spot's scatter.

    Returns
    -------
    dict
        coverage, bilayer_fraction, defect_density_cm2 (cm⁻², domain edges included),
        strain_pct (%), doping_1e13_cm2 (10¹³ cm⁻²).
    """
    rng = np.random.default_rng(seed)
    conc = 80.0
    cov = float(rng.beta(state.coverage * conc + 1e-3, (1 - state.coverage) * conc + 1e-3))
    bl = float(rng.beta(state.bilayer_fraction * conc + 1e-3,
                        (1 - state.bilayer_fraction) * conc + 1e-3))
    # Domain edges and grain boundaries add disorder to the point defects (per cm²).
    edge_defects = 2e12 * (100.0 / max(state.domain_size_nm, 10.0))
    return {
        "coverage": cov,
        "bilayer_fraction": bl,
        "defect_density_cm2": float(state.defect_density_cm2 * np.exp(rng.normal(0, 0.1))
                                    + edge_defects),
        "strain_pct": float(state.strain_pct + rng.normal(0.0, 0.02)),
        "doping_1e13_cm2": float(max(state.doping_1e13_cm2 + rng.normal(0.0, 0.03), 0.0)),
    }


def spot_environment(seed=None) -> dict[str, float]:
    """The dielectric and charge environment of one spot.

    Parameters
    ----------
    seed : int or Generator, optional
        Seed or generator of the two environment offsets.

    Returns
    -------
    dict
        ``env_exciton_shift_ev`` (eV, PL only) and ``env_doping_1e13_cm2`` (10¹³ cm⁻²,
        adsorbate charge transfer, added to the film doping).
    """
    rng = np.random.default_rng(seed)
    return {"env_exciton_shift_ev": float(rng.normal(0.0, ENV_EXCITON_SHIFT_EV)),
            "env_doping_1e13_cm2": float(rng.normal(0.0, ENV_DOPING_1E13_CM2))}


def _electron_density(spot: dict[str, float]) -> float:
    """Electrons (10¹³ cm⁻²) of the spot: film doping plus adsorbate charge, never below 0."""
    return max(spot["doping_1e13_cm2"] + spot.get("env_doping_1e13_cm2", 0.0), 0.0)


def raman_peaks(layers: int, spot: dict[str, float], laser_power_mw: float,
                scale: float = 1.0) -> list[Peak]:
    """True MoS2 peaks of ``layers`` layers under ``spot``'s conditions.

    Parameters
    ----------
    layers : int
        Layer number (1 to 3).
    spot : dict
        The spot's state (:func:`local_spot`, optionally with :func:`spot_environment`).
    laser_power_mw : float
        Laser power, mW (heating shifts and broadens the modes).
    scale : float
        A1g height of a monolayer, counts.

    Returns
    -------
    list of Peak
        LA, E2g, A1g and 2LA (centres and FWHM in cm⁻¹, heights in counts).
    """
    n_d = spot["defect_density_cm2"] * 1e-14  # per nm²
    eps, dop = spot["strain_pct"], _electron_density(spot)
    heat = HEATING_K_PER_MW * laser_power_mw
    width = 0.012 * heat + 15.0 * n_d
    e_center = (E2G_CM1[layers] * (1 - 2 * GRUNEISEN["E2g"] * eps / 100)
                + TEMPERATURE_COEFF_CM1_K["E2g"] * heat - 7.0 * n_d - 0.1 * dop)
    a_center = (A1G_CM1[layers] * (1 - 2 * GRUNEISEN["A1g"] * eps / 100)
                + TEMPERATURE_COEFF_CM1_K["A1g"] * heat + 4.5 * n_d + A1G_DOPING_SHIFT_CM1 * dop)
    a_height = scale * (1.0 + 0.6 * (layers - 1))
    return [
        Peak("LA", 227.0, 12.0, a_height * LA_RATIO_NM2 * n_d),
        Peak("E2g", e_center, 2.6 + width, 0.55 * a_height),
        Peak("A1g", a_center, 4.0 + width + A1G_DOPING_BROADENING_CM1 * dop, a_height),
        Peak("2LA", 452.0 + 2.0 * (layers - 1), 14.0 + 40.0 * n_d,
             a_height * (0.12 + 3.0 * n_d)),
    ]


def _noisy(clean: np.ndarray, rng: np.random.Generator, spikes: float) -> np.ndarray:
    """Shot noise, read noise (3 counts) and cosmic-ray spikes (Poisson mean ``spikes``)."""
    counts = rng.poisson(np.clip(clean, 0, None)).astype(float) + rng.normal(0, 3.0, clean.shape)
    for _ in range(rng.poisson(spikes)):
        i = rng.integers(0, clean.size)
        counts[i:i + rng.integers(1, 3)] += rng.uniform(300.0, 3000.0)
    return counts


def _measurement(state: FilmState, laser_power_mw: float, seed, spot: dict[str, float] | None,
                 efficiency_sigma: float, counts_per_mw: float
                 ) -> tuple[np.random.Generator, dict[str, float], float, float]:
    """The random stream of one measurement, its spot (drawn from ``state`` unless given), the
    collection efficiency (log-normal, ``efficiency_sigma``) and the peak scale (counts:
    ``counts_per_mw`` × power × efficiency)."""
    if laser_power_mw <= 0:
        raise ValueError("laser_power_mw must be positive")
    rng = np.random.default_rng(seed)
    spot = local_spot(state, rng) | spot_environment(rng) if spot is None else spot
    efficiency = float(np.exp(rng.normal(0.0, efficiency_sigma)))
    return rng, spot, efficiency, counts_per_mw * laser_power_mw * efficiency


def _film_peaks(spot: dict[str, float], axis: np.ndarray, unit: str,
                peaks: Callable[[int, float], list[Peak]]) -> tuple[np.ndarray, dict]:
    """The true peaks of the spot's monolayer and bilayer areas summed on ``axis``, and the
    truth: the spot's state and every peak's ``{layers}L_{name}_center_{unit}``,
    ``..._fwhm_{unit}`` and ``..._height``. ``peaks(layers, area fraction)`` gives the peaks."""
    fractions = {1: spot["coverage"] * (1 - spot["bilayer_fraction"]),
                 2: spot["coverage"] * spot["bilayer_fraction"]}
    truth: dict[str, float] = {f"spot_{k}": v for k, v in spot.items()}
    clean = np.zeros_like(axis)
    for layers, fraction in fractions.items():
        for peak in peaks(layers, fraction):
            clean += peak.evaluate(axis)
            key = f"{layers}L_{peak.name}"
            truth |= {f"{key}_center_{unit}": peak.center, f"{key}_fwhm_{unit}": peak.fwhm,
                      f"{key}_height": peak.height}
    return clean, truth


def raman_spectrum(state: FilmState, laser_power_mw: float = 1.0, seed=None,
                   spot: dict[str, float] | None = None) -> tuple[Spectra, dict]:
    """One 532 nm Raman spectrum (counts on ``RAMAN_AXIS_CM1``) of the film, and its truth.

    Parameters
    ----------
    state : FilmState
        The location's film state.
    laser_power_mw : float
        Laser power, mW.
    seed : int or Generator, optional
        Random seed or generator.
    spot : dict, optional
        The spot's state; drawn from ``state`` when None.

    Returns
    -------
    spectrum : Spectra
        One spectrum, axis in cm⁻¹.
    truth : dict
        The spot's local state and every true peak (``{layers}L_{mode}_center_cm1``,
        ``..._fwhm_cm1``, ``..._height``) with the sapphire lines and the background.
    """
    rng, spot, efficiency, scale = _measurement(state, laser_power_mw, seed, spot, 0.1, 900.0)
    axis = RAMAN_AXIS_CM1
    clean, truth = _film_peaks(spot, axis, "cm1", lambda layers, fraction: raman_peaks(
        layers, spot, laser_power_mw, scale * fraction))
    substrate = 0.35 * scale * (1.0 - 0.15 * spot["coverage"])
    for center, rel, fwhm in SAPPHIRE_LINES:
        clean += Peak("sapphire", center, fwhm, substrate * rel).evaluate(axis)
        truth[f"sapphire_{center:.0f}_height"] = substrate * rel
    # Background: the low-energy tail of the MoS2 photoluminescence plus a flat offset.
    tail = scale * spot["coverage"] * rng.uniform(0.05, 0.2)
    offset = rng.uniform(20.0, 60.0)
    clean += offset + tail * np.exp((axis - axis[-1]) / 250.0)
    truth |= {"background_offset": offset, "background_tail": tail,
              "laser_heating_k": HEATING_K_PER_MW * laser_power_mw, "efficiency": efficiency}
    counts = _noisy(clean, rng, spikes=0.4)
    meta = {"synthetic": True, "laser_power_mw": laser_power_mw}
    return Spectra(counts, axis, "cm-1", RAMAN_EXCITATION_NM, metadata=meta), truth


def pl_peaks(spot: dict[str, float], layers: int = 1, scale: float = 1.0) -> list[Peak]:
    """True PL peaks of ``layers`` layers: A exciton, trion, B exciton, defect-bound exciton; a
    bilayer adds its indirect-gap peak and loses most direct emission.

    Parameters
    ----------
    spot : dict
        The spot's state (:func:`local_spot`, optionally with :func:`spot_environment`).
    layers : int
        Layer number.
    scale : float
        A exciton height of a pristine undoped monolayer, counts.

    Returns
    -------
    list of Peak
        Centres and FWHM in eV, heights in counts.
    """
    eps, dop = spot["strain_pct"], _electron_density(spot)
    defects = spot["defect_density_cm2"] / 1e13
    shift = PL_STRAIN_EV_PER_PCT * eps + spot.get("env_exciton_shift_ev", 0.0)
    # Non-radiative capture at defects and Auger/doping quench the yield.
    yield_ = scale / ((1.0 + 2.0 * defects) * (1.0 + 0.6 * dop))
    if layers > 1:
        yield_ *= 0.06
    a_center = PL_A_EV - 0.02 * (layers - 1) + shift
    trion_binding = 0.020 + 0.018 * dop
    trion_ratio = 0.8 * dop
    peaks = [
        Peak("A", a_center, 0.055 + 0.01 * dop + 0.02 * defects, yield_, "gaussian"),
        Peak("trion", a_center - trion_binding, 0.07, yield_ * trion_ratio, "gaussian"),
        Peak("B", PL_B_EV + shift, 0.09, 0.15 * yield_ * (1 + trion_ratio), "gaussian"),
        Peak("defect", PL_DEFECT_EV + 0.5 * shift, 0.12, yield_ * 0.08 * defects, "gaussian"),
    ]
    if layers > 1:
        peaks.append(Peak("indirect", 1.55 - 0.12 * eps, 0.12, scale * 0.05, "gaussian"))
    return peaks


def pl_spectrum(state: FilmState, laser_power_mw: float = 0.5, seed=None,
                spot: dict[str, float] | None = None) -> tuple[Spectra, dict]:
    """One PL spectrum (counts on ``PL_AXIS_EV``, 532 nm excitation) and its truth.

    Parameters
    ----------
    state, laser_power_mw, seed, spot
        As :func:`raman_spectrum`.

    Returns
    -------
    spectrum : Spectra
        One spectrum, axis in eV.
    truth : dict
        The spot's local state and every true peak (``{layers}L_{name}_center_ev``,
        ``..._fwhm_ev``, ``..._height``) and the background.
    """
    # Focus and collection vary a lot from spot to spot: PL carries little morphology.
    rng, spot, efficiency, scale = _measurement(state, laser_power_mw, seed, spot, 0.45, 4000.0)
    axis = PL_AXIS_EV
    clean, truth = _film_peaks(spot, axis, "ev", lambda layers, fraction: pl_peaks(
        spot, layers, scale * fraction))
    offset = rng.uniform(10.0, 40.0)
    clean += offset
    truth |= {"background_offset": offset, "efficiency": efficiency}
    counts = _noisy(clean, rng, spikes=0.3)
    meta = {"synthetic": True, "laser_power_mw": laser_power_mw}
    return Spectra(counts, axis, "eV", RAMAN_EXCITATION_NM, metadata=meta), truth
