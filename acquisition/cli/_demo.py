"""``femtospin demo``: CoFeB(5)|Pt(3) at ±M × 0°/180° on the simulated table, fitted live, stored, reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from femtospin.devices import plan_devices
from femtospin.plans import Measurement, delay_grid, thz_emission

from .._profiles import sim_profile
from .._session import Session
from ..storage._storage import load_run

DEMO_SAMPLE = "CoFeB(5)|Pt(3)"
LIVE_TIMEOUT_S = 60.0
DEMO_GRID = (-1000.0, 3000.0, 50.0)  # fs: start, stop, step
DEMO_FINE = (-200.0, 500.0, 10.0)  # fs: the finer steps around the spin current


@dataclass
class DemoResult:
    uid: str
    run_file: Path
    report: Path | None
    fit: dict  # the stored final fit (``femtospin analyze`` JSON)


def run_demo(*, fast: bool = False, data_dir=None, out_dir=None, progress: bool = True, catalog=None) -> DemoResult:
    """Measure ±M × 0°/180° with the live fit, then read the run and its fit back from storage."""
    session, plan = demo_session(fast=fast, data_dir=data_dir, out_dir=out_dir, progress=progress, catalog=catalog)
    return measure_demo(session, plan)


def demo_session(*, fast: bool = False, data_dir=None, out_dir=None, progress: bool = True,
                 catalog=None) -> tuple[Session, Measurement]:
    """The demo's session on the simulated table and its plan, not yet run.

    Two sweeps on a grid fine near time zero: the noise then comes from the sweeps' scatter,
    so redchi can judge the model and the errors hold the drift between sweeps.
    """
    table = sim_profile(DEMO_SAMPLE, fast=fast, seed=None)
    table.lockin.time_constant.put(0.01)
    table.lockin.sensitivity.put(0.005)
    session = Session(table, data_dir, progress=progress, live=True, report_dir=out_dir, catalog=catalog)
    plan = thz_emission(**plan_devices(table, thz_emission), delays=delay_grid(*DEMO_GRID, fine=DEMO_FINE),
                        magnetization=(1, -1), angles=(0.0, 180.0), repeats=2, md={"purpose": "demo"})
    return session, plan


def measure_demo(session: Session, plan: Measurement) -> DemoResult:
    """Run the demo's plan; an interruption or failure propagates with the session's :attr:`~Session.uids`."""
    (uid,) = session.run(plan)
    if not session.live.wait(LIVE_TIMEOUT_S):
        raise RuntimeError(f"the live fit of run {uid} did not finish within {LIVE_TIMEOUT_S:g} s")
    run = load_run(uid, session.data_dir)
    fits = run.fits()
    return DemoResult(uid, run.path, session.live.state.report, fits[0] if fits else {})


def summary(result: DemoResult) -> str:
    """What the demo prints: the run, the fitted spin-current parameters and where the files are."""
    lines = [f"run uid:    {result.uid}", f"data:       {result.run_file}"]
    fit = result.fit.get("fit")
    if fit:
        p = fit["params"]
        lines += [f"component:  {result.fit.get('component')} (S− of 0°/180°, odd in M)",
                  f"tau_es:     {p['tau_es_fs']['value']:.1f} ± {p['tau_es_fs']['stderr']:.1f} fs "
                  f"(published CoFeB: 104 fs)",
                  f"t0:         {p['t0_fs']['value']:.1f} ± {p['t0_fs']['stderr']:.1f} fs",
                  f"resolution: {result.fit['resolution_fs']:.0f} fs FWHM (deconvolved j_s)",
                  f"redchi:     {fit['redchi']:.2f} (p = {fit['p_value']:.2g}; noise from "
                  f"{result.fit['noise']['method']})"]
        lines += [f"warning: {w}" for w in result.fit.get("warnings", [])]
    elif "error" in result.fit:
        lines.append(f"fit:        {result.fit['error']}")
    lines.append(f"report:     {result.report}")
    return "\n".join(lines)
