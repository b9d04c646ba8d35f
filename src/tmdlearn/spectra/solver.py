"""The batched solvers of the peak fit: Levenberg–Marquardt and RAdam on N spectra at once.

:class:`Problem` holds one fit window on a :class:`~tmdlearn.spectra.backend.Backend` (numpy or
torch): the scaled axis,
the model layout, the bounds and the position regulariser, with the linearisation, the standard
errors and the peak significance. :func:`levenberg_marquardt` (projected LM with Marquardt
scaling, a working set streamed over the spectra) and :func:`radam` (``torch.optim.RAdam`` on
bound-transformed parameters) minimise it. Everything here is in the scaled units of
:mod:`tmdlearn.spectra.regionfit`: axis on [-1, 1], intensity divided by the spectrum's max |y|.
"""

from __future__ import annotations

import numpy as np

from tmdlearn.spectra.lineshapes import evaluate


class Problem:
    """One fit window on a backend: scaled axis, layout, bounds and the position regulariser.

    Parameters
    ----------
    be : Backend
        numpy or torch.
    x : (L,) array
        The window's axis scaled to [-1, 1].
    layout : tuple
        The peaks' shapes and parameter offsets (:func:`tmdlearn.spectra.lineshapes.evaluate`).
    lo, hi : (P,) arrays
        Bounds of the parameters (scaled units).
    c_index : list of int
        Columns of the peak centres.
    w0 : (P_c,) array
        The model's widths of those peaks (scaled axis units): the regulariser's scale.
    weight : float
        Weight of the position regulariser Σ ((c − c0) / w0)²; 0 turns it off.
    significance : bool
        Also compute each peak's SSR rise (:meth:`peak_dssr`).
    """

    def __init__(self, be, x, layout, lo, hi, c_index, w0, weight, significance=False):
        self.be, self.x, self.layout, self.lo, self.hi = be, x, layout, lo, hi
        self.c_index = c_index
        self.significance = significance
        self.reg = weight / (w0 * w0) if weight > 0 else None
        # scipy's leastsq tolerances (1.49e-8), looser where the precision cannot reach them
        self.tol = max(1.49e-8, 30.0 * be.eps)

    def linearise(self, p, y, c0):
        """Cost, normal equations and SSR at ``p``.

        Parameters
        ----------
        p : (n, P) array
            Parameters (scaled units).
        y : (n, L) array
            Scaled intensities.
        c0 : (n, P_c) array
            The regulariser's reference centres.

        Returns
        -------
        cost : (n,) array
            SSR plus the regulariser.
        a : (n, P, P) array
            JᵀJ with the regulariser.
        g : (n, P) array
            Jᵀr with the regulariser.
        ssr : (n,) array
            Sum of squared residuals of the data alone.
        """
        f, jac = evaluate(self.be.xp, self.x, p, self.layout)
        r = y - f
        ssr = (r * r).sum(axis=1)
        a = jac @ jac.swapaxes(1, 2)
        g = (jac @ r[:, :, None])[:, :, 0]
        cost = ssr
        if self.reg is not None:
            offset = p[:, self.c_index] - c0
            cost = ssr + (offset * offset * self.reg).sum(axis=1)
            a[:, self.c_index, self.c_index] += self.reg
            g[:, self.c_index] -= self.reg * offset
        return cost, a, g, ssr

    def residual_scale(self, p, y):
        """Robust scale of the residual, 1.4826·median|y − f| (spikes leave it alone).

        Parameters
        ----------
        p : (n, P) array
            Parameters (scaled units) of the model f.
        y : (n, L) array
            Scaled intensities, whose residual is y − f.

        Returns
        -------
        (n,) array
        """
        f, _ = evaluate(self.be.xp, self.x, p, self.layout, jacobian=False)
        r = (y - f).abs() if self.be.torch else np.abs(y - f)
        median = r.median(dim=1).values if self.be.torch else np.median(r, axis=1)
        return 1.4826 * median

    def peak_dssr(self, a, p, g):
        """Rise (n, K) of the SSR when each peak is removed and the other parameters are
        re-optimised, to first order: h² / [(J_sᵀJ_s)⁻¹]_hh without the peak's shape columns.

        A peak held at height 0 by its bound gets minus the fall a negative height would
        bring, [(J_sᵀJ_s)⁻¹]_hh · g_h² (``g`` = Jᵀr): the score stays continuous through 0
        and ranks flat noise below a dip. A small ridge keeps the reduced normal equations
        solvable where another peak has vanished (its shape columns are then zero).

        Parameters
        ----------
        a : (n, P, P) array
            JᵀJ (with the regulariser, which is removed).
        p : (n, P) array
            Parameters (scaled units).
        g : (n, P) array
            Jᵀr.

        Returns
        -------
        (n, K) array
            Scaled squared intensity units.
        """
        be, xp = self.be, self.be.xp
        a = self.unregularised(a)
        n_params = a.shape[1]
        out = []
        for shape, k in self.layout[0]:
            width = 4 if shape == "pseudo_voigt" else 3
            keep = [i for i in range(n_params) if i == k or not k < i < k + width]
            sub = a[:, keep][:, :, keep]
            diag = be.arange(len(keep))
            sub[:, diag, diag] += 1e-12 * xp.amax(sub[:, diag, diag], 1)[:, None] + 1e-300
            unit = 0.0 * sub[:, 0]
            unit[:, keep.index(k)] = 1.0
            hh = be.solve(sub, unit)[:, keep.index(k)]
            below = xp.clip(g[:, k], None, 0.0) if be.torch else np.minimum(g[:, k], 0.0)
            out.append(xp.where(p[:, k] > 0, p[:, k] * p[:, k] / hh, -hh * below * below))
        return xp.stack(out, 1) if out else p[:, :0]

    def unregularised(self, a):
        """JᵀJ without the position regulariser's diagonal terms.

        Parameters
        ----------
        a : (n, P, P) array
            JᵀJ from :meth:`linearise`.

        Returns
        -------
        (n, P, P) array
            ``a`` itself when there is no regulariser, else a copy.
        """
        if self.reg is None:
            return a
        a = self.be.copy(a)
        a[:, self.c_index, self.c_index] -= self.reg
        return a

    def stderr(self, a, ssr, n_points):
        """Standard errors from (JᵀJ)⁻¹ · SSR / (L - P) (regulariser removed from JᵀJ).

        Parameters with no effect on the model (the centre and width of a peak whose height
        went to zero: zero Jacobian columns) get NaN and are left out of the inverse, so
        they do not take the other parameters' errors with them.

        Parameters
        ----------
        a : (n, P, P) array
            JᵀJ at the solution.
        ssr : (n,) array
            Sum of squared residuals.
        n_points : int
            Points L of the window.

        Returns
        -------
        (n, P) array
            Scaled units; NaN where undetermined.
        """
        be, xp = self.be, self.be.xp
        n_params = a.shape[1]
        a = self.unregularised(a)
        diag = be.arange(n_params)
        d = a[:, diag, diag]
        dead = d <= 1e-13 * xp.amax(d, 1)[:, None]
        live = 1.0 - 1.0 * dead
        a = a * (live[:, :, None] * live[:, None, :])
        a[:, diag, diag] += 1.0 - live
        var = be.inv(a)[:, diag, diag] * (ssr / (n_points - n_params))[:, None]
        return xp.sqrt(xp.where((var >= 0) & ~dead, var, xp.nan * var))


def _empty_results(n: int, n_params: int, n_peaks: int, n_iter: int = 0) -> tuple:
    """The solvers' outputs before any spectrum is done: values, stderr (n, P), SSR (n,)
    NaN, converged False, iterations ``n_iter``, SSR rises (n, K) and residual scales NaN."""
    return (np.full((n, n_params), np.nan), np.full((n, n_params), np.nan), np.full(n, np.nan),
            np.zeros(n, dtype=bool), np.full(n, n_iter, dtype=np.int32),
            np.full((n, n_peaks), np.nan), np.full(n, np.nan))


def levenberg_marquardt(problem: Problem, ys, p0, max_iter, batch_size):
    """Projected Levenberg–Marquardt, streamed over the spectra.

    A working set of up to ``batch_size`` spectra iterates together; converged spectra leave
    it and waiting ones join, so the arrays stay full. Only the normal equations (P x P per
    spectrum) persist between iterations; the (batch, P, L) Jacobian is a temporary.

    Parameters
    ----------
    problem : Problem
        The fit window (scaled axis, layout, bounds, regulariser).
    ys : (n, L) array
        Scaled intensities (divided by each spectrum's largest |y|).
    p0 : (n, P) array
        Scaled initial values, inside the bounds.
    max_iter : int
        Iterations at most per spectrum.
    batch_size : int
        Spectra iterating together.

    Returns
    -------
    tuple of numpy arrays
        Values and stderr (n, P), SSR (n,) in scaled units, converged flags (n,), iteration
        counts (n,), the SSR rise (n, K) on removing each peak and the residual's robust scale
        (n,) (both NaN unless ``problem.significance``).
    """
    be = problem.be
    n, n_params = p0.shape
    out = _empty_results(n, n_params, len(problem.layout[0]))
    rows = np.zeros(0, dtype=np.int64)
    iters = np.zeros(0, dtype=np.int32)
    state = None
    queued = 0
    while True:
        if queued < n and rows.size <= batch_size // 2:
            new = np.arange(queued, min(n, queued + batch_size - rows.size))
            queued = new[-1] + 1
            state = _admit(problem, ys[new], p0[new], state)
            rows = np.concatenate([rows, new])
            iters = np.concatenate([iters, np.zeros(new.size, np.int32)])
        if rows.size == 0:
            break
        state, converged = _lm_step(problem, state)
        iters += 1
        conv_np = be.numpy(converged).astype(bool)
        done_np = conv_np | (iters >= max_iter)
        if done_np.any():
            _retire(problem, state, be.mask(done_np), rows[done_np], conv_np[done_np],
                    iters[done_np], ys.shape[1], out)
            keep = be.mask(~done_np)
            state = [s[keep] for s in state]
            rows, iters = rows[~done_np], iters[~done_np]
    return out


def _admit(problem: Problem, ys, p0, state: list | None) -> list:
    """The working set's state (y, p, c0, cost, JᵀJ, Jᵀr, SSR, damping) with the spectra
    ``ys`` starting from ``p0`` appended."""
    be, xp = problem.be, problem.be.xp
    y_new, p_new = be.array(ys), be.array(p0)
    c0_new = p_new[:, problem.c_index]
    cost, a, g, ssr = problem.linearise(p_new, y_new, c0_new)
    fresh = [y_new, p_new, c0_new, cost, a, g, ssr, xp.ones_like(cost) * 1e-3]
    return fresh if state is None else [be.cat(s, t) for s, t in zip(state, fresh, strict=True)]


def _lm_step(problem: Problem, state: list) -> tuple[list, object]:
    """One damped, projected Gauss–Newton step of every spectrum of the working set: the new
    state and the converged flags."""
    be, xp = problem.be, problem.be.xp
    tol = problem.tol
    y, p, c0, cost, a, g, ssr, lam = state
    diag = be.arange(p.shape[1])
    d = a[:, diag, diag]
    d = xp.maximum(d, 1e-12 * d.sum(axis=1)[:, None] + 1e-30)
    # parameters held at a bound by a gradient pushing outwards leave the step (active set)
    held = ((p <= problem.lo) & (g < 0)) | ((p >= problem.hi) & (g > 0))
    free = 1.0 - 1.0 * held
    damped = a * (free[:, :, None] * free[:, None, :])
    damped[:, diag, diag] += lam[:, None] * d * free + (1.0 - free)
    step = be.solve(damped, g * free)
    step = xp.where(xp.isfinite(step), step, 0.0 * step)
    trial = xp.clip(p + step, problem.lo, problem.hi)
    cost_new, a_new, g_new, ssr_new = problem.linearise(trial, y, c0)
    accept = cost_new < cost
    moved = xp.amax(xp.abs(trial - p), 1)
    small_step = moved <= tol * (xp.amax(xp.abs(p), 1) + tol)
    small_gain = (cost - cost_new) <= tol * cost
    converged = (accept & small_gain) | small_step | (~accept & (lam > 1e8))
    p = xp.where(accept[:, None], trial, p)
    a = xp.where(accept[:, None, None], a_new, a)
    g = xp.where(accept[:, None], g_new, g)
    cost = xp.where(accept, cost_new, cost)
    ssr = xp.where(accept, ssr_new, ssr)
    lam = xp.clip(xp.where(accept, lam * 0.3, lam * 10.0), 1e-12, 1e12)
    return [y, p, c0, cost, a, g, ssr, lam], converged


def _retire(problem: Problem, state: list, done, finished: np.ndarray, converged: np.ndarray,
            iters: np.ndarray, n_points: int, out: tuple) -> None:
    """Store the results of the spectra ``done`` (a mask of the working set; ``finished``
    their rows of ``out``) into ``out``."""
    be = problem.be
    y, p, _, _, a, g, ssr, _ = state
    out[0][finished] = be.numpy(p[done])
    out[1][finished] = be.numpy(problem.stderr(a[done], ssr[done], n_points))
    out[2][finished] = be.numpy(ssr[done])
    out[3][finished] = converged
    out[4][finished] = iters
    if problem.significance:
        out[5][finished] = be.numpy(problem.peak_dssr(a[done], p[done], g[done]))
        out[6][finished] = be.numpy(problem.residual_scale(p[done], y[done]))


def radam(problem: Problem, ys, p0, max_iter, batch_size, learning_rate=0.005, rtol=1e-4):
    """RAdam (torch) on z with p = lo + (hi - lo) · sigmoid(z), batch by batch.

    A spectrum has converged when one Gauss–Newton step from the result would lower its cost
    by less than ``rtol`` (relative), i.e. it sits at a minimum.

    Parameters
    ----------
    problem, ys, p0, max_iter, batch_size
        As :func:`levenberg_marquardt` (``max_iter``: optimiser steps).
    learning_rate : float
        RAdam's learning rate on z.
    rtol : float
        Relative cost decrease below which a spectrum counts as converged.

    Returns
    -------
    tuple of numpy arrays
        As :func:`levenberg_marquardt`.
    """
    import torch

    be = problem.be
    n, n_params = p0.shape
    out = _empty_results(n, n_params, len(problem.layout[0]), max_iter)
    lo, span = problem.lo, problem.hi - problem.lo
    for start in range(0, n, batch_size):
        rows = slice(start, min(n, start + batch_size))
        y, p = be.array(ys[rows]), be.array(p0[rows])
        c0 = p[:, problem.c_index]
        frac = ((p - lo) / span).clamp(1e-6, 1 - 1e-6)
        z = torch.log(frac / (1 - frac)).requires_grad_(True)
        optimiser = torch.optim.RAdam([z], lr=learning_rate)
        for _ in range(max_iter):
            optimiser.zero_grad()
            params = lo + span * torch.sigmoid(z)
            f, _ = evaluate(torch, problem.x, params, problem.layout, jacobian=False)
            loss = ((y - f) ** 2).sum(axis=1)
            if problem.reg is not None:
                loss = loss + ((params[:, problem.c_index] - c0) ** 2 * problem.reg).sum(axis=1)
            # per point: RAdam's first steps are plain momentum steps on the raw gradient
            (loss.sum() / ys.shape[1]).backward()
            optimiser.step()
        with torch.no_grad():
            params = lo + span * torch.sigmoid(z)
            cost, a, g, ssr = problem.linearise(params, y, c0)
            sd = problem.stderr(a, ssr, ys.shape[1])
            gain = (g * be.solve(a, g)).sum(axis=1)
            if problem.significance:
                out[5][rows] = be.numpy(problem.peak_dssr(a, params, g))
                out[6][rows] = be.numpy(problem.residual_scale(params, y))
        out[0][rows], out[1][rows], out[2][rows] = be.numpy(params), be.numpy(sd), be.numpy(ssr)
        out[3][rows] = be.numpy(gain <= rtol * cost).astype(bool)
    return out
