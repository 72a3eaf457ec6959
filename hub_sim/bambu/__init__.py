"""A simulated Bambu Lab printer that unmodified Bambu LAN clients cannot tell from a real one."""

from hub_sim.bambu.printer import SimulatedBambuPrinter

__all__ = ["SimulatedBambuPrinter"]
