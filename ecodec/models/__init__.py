"""Agent models, one module per kind, each registering its class (:mod:`ecodec.models.registry`).

``AGENT_CLASSES`` maps a kind to its class for agents coupled through resources, ``AGGREGATIVE_CLASSES`` for
agents coupled through aggregates, ``SHARING_CLASSES`` for the prosumer nodes of online energy sharing; importing
this package registers every shipped kind, in sheet order.
"""

from ecodec.models.base import (AggregativeAgent, AggregativeTerms, Agent, AgentTerms, DeploymentAgent, Output,
                                SharingAgent, SharingTerms, TimeGrid, at)
from ecodec.models.microturbine import Microturbine
from ecodec.models.renewable import Renewable
from ecodec.models.storage import Storage
from ecodec.models.grid import Grid
from ecodec.models.boiler import Boiler
from ecodec.models.chiller import Chiller
from ecodec.models.building import Building
from ecodec.models.cold_storage import ColdStorage
from ecodec.models.ev import ElectricVehicle
from ecodec.models.market import Buyer, Seller
from ecodec.models.quadratic_exponential import QuadraticExponential
from ecodec.models.prosumer import Prosumer
from ecodec.models.sensor import Sensor
from ecodec.models.parameters import DeclaredAgent, parameter
from ecodec.models.registry import (AGENT_CLASSES, AGGREGATIVE_CLASSES, SHARING_CLASSES, agent_class, agent_classes,
                                    register_agent_kind)

__all__ = ["AGENT_CLASSES", "AGGREGATIVE_CLASSES", "SHARING_CLASSES", "Agent", "AgentTerms", "AggregativeAgent",
           "AggregativeTerms", "Boiler", "Building", "Buyer", "Chiller", "ColdStorage", "DeclaredAgent", "DeploymentAgent", "ElectricVehicle", "Grid", "Microturbine", "Output",
           "Prosumer", "QuadraticExponential", "Renewable", "Seller", "Sensor", "SharingAgent", "SharingTerms", "Storage", "TimeGrid", "agent_class",
           "agent_classes", "at", "parameter", "register_agent_kind"]
