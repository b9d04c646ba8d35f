"""The HyperSpy signal type ``TMD_spectrum``: Raman / PL spectra and maps that fit themselves.

Registered with HyperSpy through ``tmdlearn/hyperspy_extension.yaml`` and the
``hyperspy.extensions`` entry point, so with ``tmdlearn[hyperspy]`` installed
``signal.set_signal_type("TMD_spectrum")`` gives a :class:`TMDSpectrum`. This module imports
HyperSpy (GPL-3) and is imported only by HyperSpy or by the user, never by tmdlearn's core.
"""

from __future__ import annotations

from hyperspy.signals import Signal1D

from tmdlearn.data.containers import SpectralMap
from tmdlearn.interop.hyperspy import from_signal, to_signal


class TMDSpectrum(Signal1D):
    """Spectra or a spectral map of a 2D material (axes in cm⁻¹, eV or nm)."""

    _signal_type = "TMD_spectrum"

    def fit_peaks(self, model: str = "mos2-raman", only_ok: bool = True, **options):
        """Fit ``model`` to every spectrum with tmdlearn's batched fit.

        Parameters
        ----------
        model : str
            A preset name or a YAML path.
        only_ok : bool
            For a map, NaN where the verdict is not ok.
        **options
            As :func:`tmdlearn.spectra.fit_peaks`.

        Returns
        -------
        dict or DataFrame
            A map (two navigation axes) gives a dict of ``Signal2D`` parameter images (µm axes,
            standard error² as variance); spectra give the fit table (one row per spectrum).
        """
        from tmdlearn.spectra import fit_map, fit_peaks
        from tmdlearn.spectra.fitmaps import fit_maps

        options.setdefault("progress", False)
        data = from_signal(self)
        if isinstance(data, SpectralMap):
            fit, mask = fit_map(data, model, **options)
            return to_signal(fit_maps(fit, mask, data, only_ok=only_ok))
        return fit_peaks(data, model, **options).table()
