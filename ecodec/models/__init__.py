"""Agent models, one module per kind; ``AGENT_CLASSES`` maps a kind name to its class."""

from ecodec.models.base import Agent, AgentTerms, Output, TimeGrid, at
from ecodec.models.boiler import Boiler
from ecodec.models.ev import ElectricVehicle
from ecodec.models.grid import Grid
from ecodec.models.microturbine import Microturbine
from ecodec.models.renewable import Renewable
from ecodec.models.storage import Storage

AGENT_CLASSES: dict[str, type[Agent]] = {
    cls.kind: cls for cls in (Microturbine, Renewable, Storage, Grid, Boiler, ElectricVehicle)
}

__all__ = ["AGENT_CLASSES", "Agent", "AgentTerms", "Boiler", "ElectricVehicle", "Grid", "Microturbine", "Output",
           "Renewable", "Storage", "TimeGrid", "at"]
