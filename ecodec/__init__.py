"""ecodec: energy communities and microgrids in Pyomo, solved centrally and with distributed algorithms.

The data flow runs one way (see docs/architecture.md):
workbook --io--> Case --problem--> CoupledProblem --solvers/decomposition--> RunResult --> results workbook / JSON.
"""

__version__ = "0.1.0"
