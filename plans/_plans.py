"""The measurement plans. Each validates every argument when called, before any message, and
returns a :class:`Measurement`; devices are passed by their role on the table."""

from __future__ import annotations

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np

from femtospin.devices import WALL_CLOCK

from ._adaptive import SAMPLINGS, adaptive_measure
from ._analysis import fitted_parameters
from ._conditions import (
    FAST_BY_DEFAULT,
    KERR_QWP_DEG,
    LOOP_ORDER,
    MAX_RAMP_K_PER_MIN,
    Dimension,
    angle_dim,
    fluence_dim,
    helicity_dim,
    kerr_dim,
    magnetization_dim,
    schedule,
    spot_dim,
    state_dim,
    temperature_dim,
)
from ._fly import (
    MODES,
    bin_edges,
    emit_bins,
    fly_measure,
    fly_settings,
    make_flyer,
    point_signals,
    round_trip,
    safe_after_fly,
)
from ._measure import measure
from ._moke import (
    check_detection,
    check_static_args,
    check_static_devices,
    static_estimate_s,
    static_labels,
    static_step,
    typed_static_md,
)
from ._steps import Measurement, lockin_settle_s, make_safe, read_at
from ._validate import (
    PlanArgumentError,
    check_baseline,
    check_choices,
    check_delays,
    check_points,
    check_positive,
    delay_grid,
    require,
)

# thz_emission's parameter for each condition it is given by
PARAMETER_OF_CONDITION = {"temperature_K": "temperatures", "spot_mm": "spots", "fluence_mJcm2": "fluences",
                          "state": "states", "angle_deg": "angles", "helicity": "helicities", "kerr": "kerr",
                          "magnetization": "magnetization"}


def thz_emission(lockin, stage, delays, *, magnet=None, sample_rotation=None, pump_qwp=None, probe_qwp=None,
                 heater=None, spot=None, attenuator=None, power_meter=None,
                 magnetization=(), angles=(), helicities=(), kerr=(), states=(), temperatures=(), spots=(),
                 fluences=(), repeats: int = 1, interleave: str = "scan", order: str = "abba", fast=None,
                 saturation_mT: float = 50.0, field_mT: float = 0.0, reverse_mT: float | None = None,
                 ramp_K_per_min: float | None = None, mode: str = "step", sampling: str = "grid",
                 target: dict | None = None, budget_s: float | None = None, batch: int = 24, free=(), clock=None,
                 readables=(), setup: dict | None = None, md: dict | None = None,
                 plan_name: str = "thz_emission") -> Measurement:
    """One run of delay sweeps over every combination of the given conditions (see :func:`sweeps`).

    With sampling adaptive (``--sampling adaptive --target tau_es_fs=0.5``) the delays are
    the candidates a design chooses from, batch by batch, where the live fit learns most,
    until the target's stderr or the table-time budget (``--budget-s``) is reached
    (docs/analysis.md §11). Refused on a TR-MOKE table (its detection is not EOS): use
    :func:`moke_scan` there.
    """
    if not len(list(kerr)):
        check_detection(setup, "eos", plan_name)
    return sweeps(**locals())


def sweeps(lockin, stage, delays, *, magnet=None, sample_rotation=None, pump_qwp=None, probe_qwp=None,
           heater=None, spot=None, attenuator=None, power_meter=None,
           magnetization=(), angles=(), helicities=(), kerr=(), states=(), temperatures=(), spots=(),
           fluences=(), repeats: int = 1, interleave: str = "scan", order: str = "abba", fast=None,
           saturation_mT: float = 50.0, field_mT: float = 0.0, reverse_mT: float | None = None,
           ramp_K_per_min: float | None = None, readables=(), setup: dict | None = None,
           md: dict | None = None, plan_name: str = "thz_emission", prologue=None, epilogue=None,
           extra_s: float = 0.0, mode: str = "step", sampling: str = "grid", target: dict | None = None,
           budget_s: float | None = None, batch: int = 24, free=(), clock=None) -> Measurement:
    """One run of delay sweeps over every combination of the given conditions.

    Parameters
    ----------
    lockin, stage
        The lock-in and the delay stage.
    delays : sequence of float
        Delays in fs (see :func:`delay_grid` for start/stop/step and a finer
        grid near time zero).
    magnet, sample_rotation, pump_qwp, probe_qwp, heater, spot, attenuator, power_meter : optional
        Devices by role; each is needed only by the conditions that use it. With a
        power meter, every point reads the pump power before the lock-in (laser-drop
        suspender).
    magnetization : sequence of {+1, −1}
        Saturate at ±``saturation_mT``, measure at ±``field_mT`` (0 removes the Nernst part).
    angles : sequence of float
        Sample angles in degrees (0°/180° separate E_js from E_M).
    helicities : sequence of {+1, −1, 0}
        σ+, σ− or linear pump (quarter-wave plate at 45°, 135°, 0°).
    kerr : sequence of {"rotation", "ellipticity"}
        TR-MOKE quantity, selected by the probe quarter-wave plate.
    states : sequence of {"P", "AP"}
        Spin-valve states prepared by :func:`prepare_state` (needs ``reverse_mT`` for AP).
    temperatures, spots, fluences : sequence of float
        Sample temperatures (K), spot positions (mm), pump fluences (mJ/cm²).
    repeats : int
        Passes over every combination of the fast conditions.
    interleave : {"scan", "point"}
        ``scan``: a whole sweep per combination; ``point``: combinations cycled at each delay.
    order : {"abba", "cyclic"}
        ``abba`` reverses every other pass (+ − − +), cancelling a linear drift.
    fast : sequence of str, optional
        Conditions interleaved inside each repeat; default the cheap ones
        (state, angle, helicity, kerr, magnetization). The others are outer loops.
    mode : {"step", "fly"}
        ``step``: settle and read at each delay. ``fly``: each sweep a constant-velocity
        round trip recorded from the lock-in's buffer, binned at the grid's finest step
        (interleave ``scan`` only; see :mod:`femtospin.plans._fly`).
    sampling : {"grid", "adaptive"}
        ``grid``: measure ``delays``. ``adaptive``: two coarse sweeps, then batches of
        ``batch`` delays (chosen among ``delays``) where the live fit learns most about
        ``target``'s parameter per second, until its stderr reaches ``target``
        (``{"tau_es_fs": 0.5}``) or ``budget_s`` of table time is spent (default: the time
        of 8 passes over ``delays``); step mode, THz emission, slow conditions outer.
    free : sequence of str
        Fit parameters the sample's literature values would hold fixed, fitted instead
        (the adaptive design and the live analysis both fit them).
    clock : optional
        The table's clock (filled in by the table), for the adaptive budget.
    setup : dict, optional
        The table's ``detection`` and ``pump`` as its start document records them
        (filled in from the profile by ``femtospin run``, ``serve`` and ``replay``).
        A THz-emission grid must start early enough for the analysis on that
        detector (:func:`check_baseline`; GaP 250 µm without it).
    prologue, epilogue, extra_s : optional
        Plans run inside the run before the first and after the last sweep, and
        their expected duration (``moke_scan``'s static Kerr signal).
    """
    (mode,) = check_choices("mode", [mode], MODES)
    (sampling,) = check_choices("sampling", [sampling], SAMPLINGS)
    delays = check_delays("delays", delays, stage)
    requested = {"temperature_K": temperatures, "spot_mm": spots, "fluence_mJcm2": fluences, "state": states,
                 "angle_deg": angles, "helicity": helicities, "kerr": kerr, "magnetization": magnetization}
    builders = {
        "temperature_K": lambda v: temperature_dim(heater, v, ramp_K_per_min),
        "spot_mm": lambda v: spot_dim(spot, v),
        "fluence_mJcm2": lambda v: fluence_dim(attenuator, v),
        "state": lambda v: state_dim(magnet, v, saturation_mT, reverse_mT),
        "angle_deg": lambda v: angle_dim(sample_rotation, v),
        "helicity": lambda v: helicity_dim(pump_qwp, v),
        "kerr": lambda v: kerr_dim(probe_qwp, v),
        "magnetization": lambda v: magnetization_dim(magnet, v, saturation_mT, field_mT),
    }
    if ramp_K_per_min is not None:  # checked even when no temperature uses it: a wrong value is a wrong call
        check_positive("ramp_K_per_min", ramp_K_per_min, MAX_RAMP_K_PER_MIN, "K/min")
    if reverse_mT is not None:
        check_positive("reverse_mT", reverse_mT, saturation_mT, "mT")
    if len(list(magnetization)) and len(list(states)):
        raise PlanArgumentError("states: give either magnetization or spin-valve states, not both")
    dims = [builders[name](list(values)) for name in LOOP_ORDER if len(list(values := requested[name]))]
    fast = [d.name for d in dims if d.name in FAST_BY_DEFAULT] if fast is None else list(fast)
    steps = schedule(dims, fast, repeats, len(delays), interleave, order)
    # recorded under the parameter names, so the plan can be called again from its start document (replay)
    args = {"delays": delays.tolist(),
            **{PARAMETER_OF_CONDITION[k]: list(v) for k, v in requested.items() if len(list(v))},
            "repeats": repeats, "interleave": interleave, "order": order, "fast": fast,
            "saturation_mT": saturation_mT, "field_mT": field_mT, "reverse_mT": reverse_mT,
            "ramp_K_per_min": ramp_K_per_min, "mode": mode}
    if len(list(free)):  # the live analysis frees them too (it reads them from the start document)
        fitted_parameters(setup, free)
        args["free"] = list(free)
    if sampling == "adaptive":
        return _adaptive(**locals())
    if not len(list(kerr)):  # a TR-MOKE measurement is not deconvolved through an EOS response
        check_baseline("delays", delays, setup, sweeps=repeats)
    hooks = {"prologue": prologue, "epilogue": epilogue, "extra_s": extra_s}
    if mode == "fly":
        if prologue is not None or epilogue is not None:
            raise PlanArgumentError("mode fly: the static Kerr steps of moke_scan (and its shutter) run in step "
                                    "mode only; use --mode step")
        hooks = {}
    return _executor(mode)(lockin, stage, delays, dims, steps, plan_name=plan_name, plan_args=args,
                           power_meter=power_meter, magnet=magnet, heater=heater if len(list(temperatures)) else None,
                           readables=readables, md={"fast_conditions": fast, "interleave": interleave,
                                                    "order": order, **(md or {})}, **hooks)


def delay_scan(lockin, stage, delays, *, magnet=None, magnetization=(), saturation_mT: float = 50.0,
               field_mT: float = 0.0, mode: str = "step", power_meter=None, readables=(), setup: dict | None = None,
               md: dict | None = None) -> Measurement:
    """Delay sweeps at the current conditions, or one per magnetization sign; a thz_emission."""
    return thz_emission(lockin, stage, delays, magnet=magnet, magnetization=magnetization,
                        saturation_mT=saturation_mT, field_mT=field_mT, mode=mode, power_meter=power_meter,
                        readables=readables, setup=setup, md=md, plan_name="delay_scan")


def moke_scan(lockin, stage, delays, *, probe_qwp, kerr=("rotation",), magnet=None, magnetization=(), states=(),
              saturation_mT: float = 50.0, field_mT: float = 0.0, reverse_mT: float | None = None,
              repeats: int = 1, interleave: str = "scan", order: str = "abba", fast=None,
              static_kerr_V: dict | None = None, static_reads: int = 8, calibration_deg: float = 0.05,
              shutter=None, analyser=None, power_meter=None, readables=(), setup: dict | None = None,
              mode: str = "step", md: dict | None = None, **kwargs) -> Measurement:
    """TR-MOKE: Kerr rotation and/or ellipticity (probe quarter-wave plate) over magnetization or P/AP states.

    The static Kerr signal that normalizes them is measured inside the run, at its
    start and its end, with the pump shutter closed (:func:`static_step`: ±M
    saturated, the analyser half-wave plate turned by ±``calibration_deg`` for the
    volts-per-mrad calibration, ``static_reads`` DC readings per setting). A
    ``static_kerr_V`` ({"rotation": V, "ellipticity": V}, optional "stderr") is used
    instead and recorded as typed in. Refused on a THz-emission table.
    """
    check_detection(setup, "moke", "moke_scan")
    kerr = check_choices("kerr", kerr, tuple(KERR_QWP_DEG))
    if static_kerr_V is not None:
        static_md, prologue, epilogue, extra = {"static_kerr_V": typed_static_md(static_kerr_V)}, None, None, 0.0
        if shutter is not None:  # the pump must reach the sample, whatever a previous run left
            prologue = lambda: bps.mv(shutter, 1)  # noqa: E731
    else:
        check_static_devices(lockin, magnet, probe_qwp, shutter, analyser)
        check_static_args(static_reads, calibration_deg, saturation_mT, magnet)
        chop = ((setup or {}).get("detection") or {}).get("chop_factor")
        static_md = {"static_kerr": {"measured": True, "phases": ["start", "end"], "chop_factor": chop,
                                     "static_reads": static_reads, "calibration_deg": calibration_deg}}

        labels = static_labels()

        def step(phase):
            return lambda: static_step(lockin, magnet, probe_qwp, shutter, analyser, kerr=kerr,
                                       saturation_mT=saturation_mT, reads=static_reads, calibration_deg=calibration_deg,
                                       phase=phase, labels=labels, power_meter=power_meter)

        prologue, epilogue = step("start"), step("end")
        extra = 2 * static_estimate_s(kerr, static_reads, saturation_mT, magnet)
    md = {**(md or {}), **static_md, "static_reads": static_reads, "calibration_deg": calibration_deg}
    return sweeps(lockin, stage, delays, probe_qwp=probe_qwp, kerr=kerr, magnet=magnet, magnetization=magnetization,
                  states=states, saturation_mT=saturation_mT, field_mT=field_mT, reverse_mT=reverse_mT,
                  repeats=repeats, interleave=interleave, order=order, fast=fast, power_meter=power_meter,
                  readables=readables, setup=setup, md=md, plan_name="moke_scan", prologue=prologue,
                  epilogue=epilogue, extra_s=extra, mode=mode, **kwargs)


def temperature_series(lockin, stage, delays, temperatures, *, heater, magnet=None, magnetization=(1, -1),
                       sample_rotation=None, angles=(), power_meter=None, repeats: int = 1,
                       ramp_K_per_min: float | None = None, mode: str = "step", setup: dict | None = None,
                       **kwargs) -> Measurement:
    """±M sweeps at each temperature; each setpoint is reached at the limited ramp and held stable.

    With ``angles`` 0,180 the sample is turned too (F|N physics is in S−), with
    ``repeats`` ≥ 2 each point's amplitude error includes the drift between
    sweeps, and the pump power is recorded where the table has a power meter:
    the series fit (T_C, α) is only as honest as those errors.
    """
    _nonempty("temperatures", temperatures, "K")
    return thz_emission(lockin, stage, delays, heater=heater, magnet=magnet, temperatures=temperatures,
                        magnetization=magnetization, sample_rotation=sample_rotation, angles=angles,
                        power_meter=power_meter, repeats=repeats, ramp_K_per_min=ramp_K_per_min, setup=setup,
                        mode=mode,
                        plan_name="temperature_series", **kwargs)


def fluence_series(lockin, stage, delays, fluences, *, attenuator, magnet=None, magnetization=(1, -1),
                   sample_rotation=None, angles=(), power_meter=None, repeats: int = 1,
                   mode: str = "step", setup: dict | None = None, **kwargs) -> Measurement:
    """±M sweeps at each pump fluence (mJ/cm²); ``angles``, ``repeats`` and the power meter as in
    :func:`temperature_series`."""
    _nonempty("fluences", fluences, "mJ/cm²")
    return thz_emission(lockin, stage, delays, attenuator=attenuator, magnet=magnet, fluences=fluences,
                        magnetization=magnetization, sample_rotation=sample_rotation, angles=angles,
                        power_meter=power_meter, repeats=repeats, setup=setup, mode=mode, plan_name="fluence_series",
                        **kwargs)


def field_loop(lockin, stage, magnet, delays, *, max_field_mT: float, step_mT: float, mode: str = "step",
               power_meter=None, readables=(), md: dict | None = None) -> Measurement:
    """Signal versus field, down from +``max_field_mT`` to −``max_field_mT`` and back up: the hysteresis loop.

    ``delays`` is one delay (signal at a fixed delay) or several (a waveform per
    field, whose RMS the analysis takes). Events carry ``field_mT`` (setpoint)
    and ``branch`` (``down``/``up``) besides the Hall readback.
    """
    (mode,) = check_choices("mode", [mode], MODES)
    delays = check_delays("delays", np.atleast_1d(delays), stage)
    check_positive("max_field_mT", max_field_mT, magnet.max_field_mT.get(), "mT")
    check_positive("step_mT", step_mT, max_field_mT, "mT")
    n = np.floor(2 * max_field_mT / step_mT + 1e-9)
    check_points("step_mT", 2 * (n + 1) * len(delays), f"{step_mT:g} mT over ±{max_field_mT:g} mT")
    n = int(n)
    down = max_field_mT - step_mT * np.arange(n + 1)
    up = down[::-1]
    ramp, settle = float(magnet.ramp_mT_s.get()), float(magnet.settle_s.get())
    dims = [Dimension("branch", ("down", "up")),
            Dimension("field_mT", tuple(down), "mT", lambda f: bps.mv(magnet, float(f)), (magnet,),
                      lambda old, new: abs(new - (old or 0.0)) / ramp + settle)]
    steps = ([({"branch": "down", "field_mT": float(f)}, list(range(len(delays)))) for f in down]
             + [({"branch": "up", "field_mT": float(f)}, list(range(len(delays)))) for f in up])
    args = {"delays": delays.tolist(), "max_field_mT": max_field_mT, "step_mT": step_mT, "mode": mode}
    return _executor(mode)(lockin, stage, delays, dims, steps, plan_name="field_loop", plan_args=args,
                           power_meter=power_meter, magnet=magnet, readables=readables, md=md)


def qwp_sweep(lockin, stage, pump_qwp, delays, angles, *, mode: str = "step", power_meter=None, readables=(),
              md: dict | None = None) -> Measurement:
    """Signal versus pump quarter-wave-plate angle φ (decomposed as C·sin2φ + L1·sin4φ + L2·cos4φ + D)."""
    (mode,) = check_choices("mode", [mode], MODES)
    delays = check_delays("delays", np.atleast_1d(delays), stage)
    require("pump_qwp", pump_qwp, "sweeping the quarter-wave plate")
    dim = angle_dim(pump_qwp, angles)  # angles in [0, 360] deg, checked
    dim = Dimension("qwp_deg", dim.values, "deg", dim.move, dim.devices, dim.change_s)
    angles = list(dim.values)
    steps = [({"qwp_deg": a}, list(range(len(delays)))) for a in angles]
    return _executor(mode)(lockin, stage, delays, [dim], steps, plan_name="qwp_sweep",
                           plan_args={"delays": delays.tolist(), "angles": angles, "mode": mode},
                           power_meter=power_meter, readables=readables, md=md)


def find_time_zero(lockin, stage, *, start_fs: float = -3000.0, stop_fs: float = 3000.0, step_fs: float = 50.0,
                   fine_step_fs: float | None = 10.0, mode: str = "step", md: dict | None = None) -> Measurement:
    """Locate the signal peak and store the stage position that puts it at delay 0.

    A coarse sweep over [``start_fs``, ``stop_fs``] finds the peak of |X|; an
    optional fine sweep of ±3 coarse steps refines it, with a parabola through
    the three highest points. The stage's ``time_zero_mm`` is updated and the
    new value recorded in the run's ``time_zero`` stream; the plan returns it.
    In ``fly`` mode each sweep is a round trip (its filter lag cancels; the peak is
    that of the waveform smeared by the even kernel of the finer sweep, a few fs rms).
    """
    (mode,) = check_choices("mode", [mode], MODES)
    coarse = check_delays("delays", delay_grid(start_fs, stop_fs, step_fs), stage)
    if fine_step_fs is not None:
        check_positive("fine_step_fs", fine_step_fs, step_fs, "fs")
    settle = lockin_settle_s(lockin)
    x_field = lockin.x.name
    n_fine = int(np.floor(6 * step_fs / fine_step_fs + 1e-9)) + 1 if fine_step_fs is not None else 0
    flyer = make_flyer(lockin, stage) if mode == "fly" else None
    if flyer is not None:
        fly_settings(lockin, stage, coarse, flyer.buffer)  # refuses a sweep the buffer cannot hold
        point = point_signals(stage, lockin)
    _md = {"plan_name": "find_time_zero", "num_points": len(coarse) + n_fine,  # fewer if the fine sweep is clipped
           "plan_args": {"start_fs": start_fs, "stop_fs": stop_fs, "step_fs": step_fs, "fine_step_fs": fine_step_fs,
                         "mode": mode},
           "conditions": [], "settle_s": settle, "mode": mode,
           "hints": {"dimensions": [([stage.delay.name], "primary")]}, **(md or {})}

    def sweep(delays):
        found = []
        for d in delays:
            yield from bps.checkpoint()
            reading = yield from read_at(stage, d, settle, [stage, lockin])
            found.append((reading[stage.delay.name]["value"], reading[x_field]["value"]))
        return np.array(found)

    def fly_sweep(delays):
        fly = fly_settings(lockin, stage, delays, flyer.buffer)
        grid = fly.pop("grid_fs")
        yield from bps.checkpoint()
        yield from bps.mv(flyer.velocity_mm_s, fly["velocity_mm_s"], flyer.rate_hz, fly["sample_rate_hz"])
        binned = yield from round_trip(flyer, stage, fly, bin_edges(grid), settle)
        yield from emit_bins(binned, grid, point, list(point.values()))
        keep = binned["samples"] > 0
        return np.column_stack([grid[keep], binned["x"][keep]])

    measure_sweep = fly_sweep if flyer is not None else sweep
    safe = (lambda: safe_after_fly(flyer, stage)) if flyer is not None else (lambda: make_safe(stage))

    @bpp.run_decorator(md=_md)
    @bpp.finalize_decorator(safe)
    def run():
        data = yield from measure_sweep(coarse)
        if fine_step_fs is not None:
            centre = data[np.argmax(np.abs(data[:, 1])), 0]
            lo, hi = max(centre - 3 * step_fs, stage.low_limit_fs.get()), min(centre + 3 * step_fs,
                                                                               stage.high_limit_fs.get())
            data = yield from measure_sweep(delay_grid(lo, hi, fine_step_fs))
        peak_fs = peak_position(data[:, 0], data[:, 1])
        new = stage.time_zero_mm.get() + peak_fs / stage.fs_per_mm.get()
        yield from bps.mv(stage.time_zero_mm, new)
        yield from bps.trigger_and_read([stage.time_zero_mm], name="time_zero")
        return new

    estimated = (len(coarse) + n_fine) * (settle + 0.05)
    return Measurement(run(), _md, estimated)


def _adaptive(lockin, stage, delays, dims, fast, interleave, order, args, repeats, mode, kerr, prologue, epilogue,
              target, budget_s, batch, clock, setup, plan_name, power_meter, magnet, heater, readables, md,
              temperatures, **_):
    """The adaptive design of :func:`sweeps` (refusals first: what it cannot combine with)."""
    if mode != "step":
        raise PlanArgumentError("sampling adaptive: step mode only (each batch is a handful of scattered delays)")
    if len(list(kerr)) or prologue is not None or epilogue is not None:
        raise PlanArgumentError("sampling adaptive: THz emission only (the design fits the EOS forward model)")
    if repeats != 1:
        raise PlanArgumentError("repeats: the adaptive design decides how often each delay is measured; "
                                "leave repeats at 1")
    args = {**args, "sampling": "adaptive", "target": target, "budget_s": budget_s, "batch": batch}
    return adaptive_measure(lockin, stage, delays, dims, fast, interleave, order, target=target, budget_s=budget_s,
                            batch=batch, clock=clock if clock is not None else WALL_CLOCK, setup=setup,
                            plan_name=plan_name, plan_args=args, power_meter=power_meter, magnet=magnet,
                            heater=heater if len(list(temperatures)) else None, readables=readables,
                            md={"fast_conditions": fast, "interleave": interleave, "order": order, **(md or {})})


def _executor(mode: str):
    """The executor of a mode: settle-and-read at each delay, or fly round trips."""
    return fly_measure if mode == "fly" else measure


def _nonempty(name: str, values, units: str) -> None:
    if not len(list(values)):
        raise PlanArgumentError(f"{name}: empty; give at least one value in {units}")


def peak_position(delays: np.ndarray, signal: np.ndarray) -> float:
    """Delay of the largest |signal|, refined by a parabola through it and its neighbours."""
    order = np.argsort(delays)
    d, s = np.asarray(delays, float)[order], np.abs(np.asarray(signal, float)[order])
    i = int(np.argmax(s))
    if 0 < i < len(d) - 1:
        a, b, _ = np.polyfit(d[i - 1:i + 2], s[i - 1:i + 2], 2)
        if a < 0:
            return float(np.clip(-b / (2 * a), d[i - 1], d[i + 1]))
    return float(d[i])
