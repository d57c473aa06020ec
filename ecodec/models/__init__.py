"""Agent models, one module per kind; ``AGENT_CLASSES`` maps a kind name to its class."""

from ecodec.models.base import AggregativeAgent, AggregativeTerms, Agent, AgentTerms, Output, TimeGrid, at
from ecodec.models.boiler import Boiler
from ecodec.models.ev import ElectricVehicle
from ecodec.models.grid import Grid
from ecodec.models.market import Buyer, Seller
from ecodec.models.microturbine import Microturbine
from ecodec.models.renewable import Renewable
from ecodec.models.storage import Storage

AGENT_CLASSES: dict[str, type[Agent]] = {
    cls.kind: cls for cls in (Microturbine, Renewable, Storage, Grid, Boiler, ElectricVehicle)
}
#: Agents coupled through aggregates (a case holds either these or resource-coupled agents)
AGGREGATIVE_CLASSES: dict[str, type[AggregativeAgent]] = {cls.kind: cls for cls in (Buyer, Seller)}

__all__ = ["AGENT_CLASSES", "AGGREGATIVE_CLASSES", "Agent", "AgentTerms", "AggregativeAgent", "AggregativeTerms",
           "Boiler", "Buyer", "Seller", "ElectricVehicle", "Grid", "Microturbine", "Output",
           "Renewable", "Storage", "TimeGrid", "at"]
