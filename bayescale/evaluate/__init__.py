"""Evaluating fitted laws: scores, PSIS-LOO with exact refits, leave-future-out, the break verdict.

Modules, from the bottom: :mod:`~bayescale.evaluate.scoring` (log densities on given points),
:mod:`~bayescale.evaluate.verdict` (the break rule), :mod:`~bayescale.evaluate.stacking` (the
stacked mixture forecast), :mod:`~bayescale.evaluate.results` (result types),
:mod:`~bayescale.evaluate.loo` and :mod:`~bayescale.evaluate.lfo` (the two scores with refits),
and :mod:`~bayescale.evaluate.compare` (:func:`~bayescale.evaluate.compare.compare`, which runs
them all).
"""
