"""Shipment simulator: a realistic multi-carrier network whose history has signal a model can find.

`simulate(SimulationConfig(n_shipments=..., seed=...))` returns a `Simulation` with the contract frames
`history`, `events` and `weather` (plus the ground-truth `backlogs` episodes); `write_simulation` writes the
three parquet files. The mechanisms and their effect sizes are documented in `README.md` next to this file.
"""

from training.simulate.core import Simulation, SimulationConfig, simulate, write_parts, write_simulation

__all__ = ["Simulation", "SimulationConfig", "simulate", "write_parts", "write_simulation"]
