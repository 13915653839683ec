"""What shows of a sweep: its summary chart (plot.py) and the live sweep screen.

    live.py          LiveSweep: the trials followed from their files, the executor that runs them
    run.py           the screen full screen, taking turns with the dashboard of a trial opened from it
    app.py           SweepApp, the screen: header, grid, running trials, chart, keys (app.tcss)
    grid_table.py    the grid: points down, models across, learned/ended and the Wilson interval
    running_table.py the trials running now, with their epochs
    chart.py         success rate against the swept axis (plot.py's draw_summary)
    header.py, stop_confirm.py, trial_picker.py: the top line, the quit question, a cell's trials
"""
