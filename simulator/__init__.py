"""muxlab's headless half: the user-space API, the kernel model, the live engine, scenarios.

Never imports textual: everything here runs in CI, in scripts and under ``--headless``.
"""

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel

__all__ = ["LiveKernel", "ModelKernel"]
