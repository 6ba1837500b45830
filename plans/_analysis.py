"""How a run is analysed, read from its start document: what the live analysis fits and what an adaptive
plan designs with."""

from __future__ import annotations

from femtospin import analysis
from femtospin.devices import detection_of, laser_nominal_W, pump_of, sample_name, spot_sample

from ._validate import PlanArgumentError

FIX_SOURCES = {"resolution_fwhm_fs": "the run's pump duration (start document)"}  # what the live fit fixes


def analysis_options(start: dict, sample: str | None = None) -> dict | None:
    """How to analyse a run, from its start document alone; None if it is not a THz-emission run.

    The sample's stack (``sample``, else the recorded one) decides the model,
    component and fixed literature values (the materials table); the pump
    duration is the model's resolution; the laser's nominal power is the level
    the signal is normalized to.
    """
    detection = detection_of(start)
    if detection.mode != "eos":
        return None  # TR-MOKE waveforms are not deconvolved through an EOS response
    sample = sample or sample_name(start)
    try:
        analysis.stack_physics(sample or "")
    except ValueError:
        sample = None  # a sample the materials table does not know: every parameter is fitted
    options = {"sample": sample, "probe_fwhm_fs": detection.probe_fwhm_fs}
    fwhm = pump_of(start).get("fwhm_fs")
    if fwhm:
        options["fix"] = {"resolution_fwhm_fs": float(fwhm)}
        options["fix_sources"] = FIX_SOURCES
    free = (start.get("plan_args") or {}).get("free")
    if free:  # parameters the sample's literature values would hold, fitted instead (the run asked for it)
        options["free"] = tuple(free)
    fly = (start.get("fly") or {}).get("filter")
    if fly:  # a fly run: the lock-in's filter along the sweep is part of the forward model
        options["sweep"] = fly
    nominal = laser_nominal_W(start)
    if nominal:
        options["reference_level"] = float(nominal)
    if detection.transfer is not None:
        options["transfer"], options["detector"] = detection.transfer, None
    else:
        options["detector"] = detection.crystal
    return options


def group_options(start: dict, group: dict, options: dict) -> dict:
    """How to analyse one group: on a substrate with several samples, as the sample at the group's spot."""
    at_spot = spot_sample(start, group.get("spot_mm"))
    return analysis_options(start, at_spot) if at_spot else options


def fitted_parameters(setup: dict | None, free=()) -> tuple[str, list[str]]:
    """The model a run on this table is fitted with, and the parameters the fit varies (``free`` included).

    Raises
    ------
    PlanArgumentError
        If ``free`` names a parameter the model does not have.
    """
    options = analysis_options(setup or {}) or {}
    physics = analysis.stack_physics(options["sample"]) if options.get("sample") else None
    model = analysis.MODELS[physics.model if physics else "spin-voltage"]
    unknown = set(free or ()) - set(model.params)
    if unknown:
        raise PlanArgumentError(f"free: {sorted(unknown)} are not parameters of the {model.name} model; "
                                f"parameters: {', '.join(model.params)}")
    held = set(physics.fixed) - set(free or ()) if physics else set()
    return model.name, [k for k, v in model.params.items() if v.vary and k not in held]
