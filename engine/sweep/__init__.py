"""Sweeps: many runs over a grid of settings and seeds, and what they say together.

    SWEEP_DIR/
        sweep.json       the grid (grid.py): every flag's values, the seeds, the models
        lock             held by the one process running the sweep (its pid)
        trials/NAME/     one normal run directory per trial (engine.rundir), NAME its grid point
                         and seed (lag-30_forget-bias-2_seed-3): `lstm-tui runs SWEEP_DIR/trials`,
                         `watch` and `export` work on any trial unchanged
        summary.csv      one row per grid point and model (summary.py), written at the end
        summary.svg      success rate against the swept axis (drawn by the front end)
        workers.log      what the local executor's worker processes wrote to stderr

    grid.py      the grid from the flags' comma lists, trial names and configs, the sweep directory
    follow.py    each trial's state and result, followed from its run directory (torch-free)
    summary.py   success rates (Wilson), medians, volatility (t intervals); summary.csv
    trials.py    one trial run to its end in a worker: resumed from its checkpoint, stopped cleanly
    executor.py  the Executor seam and the local process pool (Ray is a second implementation)

Everything but trials.py's run_trial and the worker side of executor.py is torch-free: a front
end follows a sweep from its files, as ``watch`` follows a run, and never trains.
"""
