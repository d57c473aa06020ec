"""Communication networks of the distributed algorithms: graphs over agents, Laplacian, consensus weights."""

from ecodec.network.graph import TOPOLOGIES, CommunicationNetwork, connected_groups, format_groups, network_from_case
from ecodec.network.ring_averaging import RingAveraging, ring_order
from ecodec.network.time_varying import TIME_VARYING_MODES, ActiveGraph, GraphSchedule

__all__ = ["TOPOLOGIES", "CommunicationNetwork", "connected_groups", "format_groups", "network_from_case",
           "TIME_VARYING_MODES", "ActiveGraph", "GraphSchedule", "RingAveraging", "ring_order"]
