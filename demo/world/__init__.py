"""A synthetic pharmacy chain, simulated and written in the industry's own file formats.

Pure Python, no Django: `simulate(config)` builds a `World` (everything the simulation knows),
and the writers turn it into PMS exports, X12 835 remittances, fee statements, NADAC and
acquisition-cost files, clinical activity, a manifest and the ground truth.
"""
