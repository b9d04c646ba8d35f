"""Explainable correlative spectroscopy: Raman->PL CNN read with PDP, ICE and ICE-slope maps.

>>> from tmdlearn.explain import partial_dependence, ice_slopes
>>> grid, average = partial_dependence(regressor, X, feature=8)   # any callable / sklearn model
"""

from tmdlearn.explain.ice import grid_values, ice_curves, ice_slopes, slope_maps
from tmdlearn.explain.pdp import partial_dependence, pdp_range

__all__ = ["grid_values", "ice_curves", "ice_slopes", "partial_dependence", "pdp_range",
           "slope_maps"]
