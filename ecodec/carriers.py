"""The energy carriers ecodec couples agents on, and their units.

A coupling resource is named after its carrier; agents contribute to carriers by these names (injection
positive).  Keeping the vocabulary here lets the workbook schema and the agent models agree without either
importing the other.
"""

ACTIVE_POWER = "active_power"
REACTIVE_POWER = "reactive_power"
HEAT = "heat"
COOLING = "cooling"

CARRIER_UNITS: dict[str, str] = {ACTIVE_POWER: "kW", REACTIVE_POWER: "kvar", HEAT: "kW", COOLING: "kW"}
CARRIER_DESCRIPTIONS: dict[str, str] = {
    ACTIVE_POWER: "active-power balance of the microgrid bus",
    REACTIVE_POWER: "reactive-power balance of the microgrid bus",
    HEAT: "heat balance of the thermal network",
    COOLING: "cold delivered through the district's cooling network (thermal kW)",
}
#: what a carrier is called in figures and headings (its unit is added there: 'Active power [kW]')
CARRIER_LABELS: dict[str, str] = {ACTIVE_POWER: "Active power", REACTIVE_POWER: "Reactive power", HEAT: "Heat",
                                 COOLING: "Cooling"}
