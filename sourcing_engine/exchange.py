"""The exchange format: `sourcing-problem/1` in, `sourcing-plan/1` out.

Field names here are a contract with the rest of the OMS (see docs/exchange-format.md).
Reading checks everything a user can get wrong and reports every problem at once, each
naming the entry ("orders[3] (id "A-17").lines[0].qty: ..."), never a traceback.
"""

import datetime as dt
import difflib
import json
import math
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from sourcing_engine.cost_models import (
    LinearCost,
    OrderPenalties,
    ParcelCost,
    ShipmentCostModel,
    TransitTable,
)
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.cost_models.parcel import default_it_express, default_us_ground
from sourcing_engine.domain import (
    DEFAULT_MOVE_THRESHOLD,
    DEFAULT_PICKUP_DAYS,
    DEFAULT_REOPTIMIZE_MINUTES,
    MAX_HOLD_MINUTES,
    MAX_PICKUP_DAYS,
    WEEKDAYS,
    Batch,
    Carrier,
    Destination,
    Inventory,
    Item,
    Line,
    NetworkSettings,
    Node,
    NodeCalendar,
    Order,
    Plan,
    ServiceLevel,
)
from sourcing_engine.errors import InputError, NoPostalData
from sourcing_engine.geocode import check_form, destination
from sourcing_engine.promise.calendars import calendar_checks, check_region
from sourcing_engine.promise.carriers import default_levels, zones_of
from sourcing_engine.solvers import Result

PROBLEM_FORMAT = "sourcing-problem/1"
PLAN_FORMAT = "sourcing-plan/1"
MAX_QTY = 1_000_000
"""Largest quantity accepted in one line or stock position (guards against typos)."""
MAX_COUNT = 10**12
"""Largest capacity or shipment count accepted (keeps sums within 64-bit integers)."""
MAX_WEIGHT_LB = 100_000.0
MAX_DIM_IN = 10_000.0
"""Largest unit weight and dimension accepted (keeps weights and volumes finite)."""

RATE_CARDS = {"us-ground": default_us_ground, "it-express": default_it_express}

Id = Annotated[str, Field(min_length=1, max_length=200)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Money = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0, le=MAX_QTY)]
ZIP_PATTERN = r"^[0-9]{5}(-[0-9]{4})?$"
"""A US ZIP code: 5 digits, or ZIP+4."""


def _whole(value: object) -> object:
    """4253.0 is the integer 4253, as JSON Schema's `integer` says; 4253.5 is refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = BeforeValidator(_whole)
"""Integer fields take integral numbers written with a fraction (strict otherwise: no "2").
It goes after the Field, so that the field's bounds stay in the JSON Schema."""


class _Strict(BaseModel):
    # strict: 2.5 or "2" is not a quantity; NaN and infinity are not numbers
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class CapacitySpec(_Strict):
    shipments: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None
    units: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None


class HandlingSpec(_Strict):
    per_shipment: Money = 0.0
    per_unit: Money = 0.0


LocalTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
"""A local wall-clock time, HH:MM (24 hours)."""
IsoDate = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""An ISO 3166-1 alpha-2 country code (US, IT)."""


class CalendarSpec(_Strict):
    """When a node works, in its local time (each field left out takes its kind's default:
    warehouses ship Monday to Friday with a 14:00 cut-off; stores open daily 10:00-20:00,
    ship before noon and hand a cart over within 60 minutes)."""

    time_zone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    cutoff: LocalTime | None = None
    processing_days: Annotated[int, Field(ge=0, le=60), Whole] = 0
    opens: LocalTime | None = None
    closes: LocalTime | None = None
    closed_weekdays: Annotated[list[Weekday], Field(max_length=7)] | None = None
    country: CountryCode | None = None
    subdivision: Annotated[str, Field(min_length=1, max_length=10)] | None = None
    public_holidays: bool = True
    closed_dates: Annotated[list[IsoDate], Field(max_length=1000)] = []
    pickup_minutes: Annotated[int, Field(ge=0, le=1440), Whole] | None = None
    receiving_days: Annotated[int, Field(ge=0, le=30), Whole] = 1

    def record(self) -> NodeCalendar:
        """The calendar (ValueError for hours out of order: the rules a schema cannot
        state are checked here and by `promise.calendars.calendar_problems`)."""
        return NodeCalendar.from_data(self.model_dump(exclude_defaults=True))

    @staticmethod
    def of(calendar: NodeCalendar) -> "CalendarSpec":
        return CalendarSpec.model_validate(calendar.to_data())


class NodeSpec(_Strict):
    id: Id
    kind: Literal["warehouse", "store"]
    lat: Latitude
    lon: Longitude
    capacity: CapacitySpec = CapacitySpec()
    handling: HandlingSpec = HandlingSpec()
    ship_enabled: bool = True
    calendar: CalendarSpec | None = None


class ItemSpec(_Strict):
    sku: Id
    weight_lb: Annotated[float, Field(ge=0, le=MAX_WEIGHT_LB)]
    dims_in: Annotated[
        list[Annotated[float, Field(ge=0, le=MAX_DIM_IN)]], Field(min_length=3, max_length=3)
    ] = [0.0, 0.0, 0.0]


class InventorySpec(_Strict):
    node: Id
    sku: Id
    on_hand: Count
    safety_stock: Count = 0


class LinearCostSpec(_Strict):
    type: Literal["linear"]
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "USD"
    per_shipment: Money = 0.0
    per_unit: Money = 0.0
    per_unit_mile: Money = 0.0


class ParcelCostSpec(_Strict):
    """A rate card: a built-in one by name, any field overridden, or a full custom card."""

    type: Literal["parcel"]
    rate_card: Literal["us-ground", "it-express"] | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    zone_bands_miles: list[Annotated[float, Field(gt=0)]] | None = None
    first_zone: Annotated[int, Field(ge=0, le=1000)] | None = None
    rates: dict[str, list[Money]] | None = None
    dim_divisor: Annotated[float, Field(gt=0)] | None = None
    fuel_surcharge_pct: Money | None = None
    residential_surcharge: Money | None = None

    @model_validator(mode="after")
    def _card_or_rates(self) -> "ParcelCostSpec":
        if self.rate_card is None and self.rates is None:
            raise ValueError(
                'give "rate_card" ("us-ground" or "it-express") or a full "rates" table'
            )
        return self


CostModelSpec = Annotated[LinearCostSpec | ParcelCostSpec, Field(discriminator="type")]
_COST_MODEL: TypeAdapter[LinearCostSpec | ParcelCostSpec] = TypeAdapter(CostModelSpec)


def _one_form_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema says what the validator checks: lat and lon together, or a zip,
    never both, and no nulls."""
    for name in ("lat", "lon", "zip"):
        prop = schema["properties"][name]
        (typed,) = [s for s in prop.pop("anyOf") if s.get("type") != "null"]
        prop.update(typed)
        prop.pop("default", None)
    point = {"required": ["lat", "lon"]}
    schema["oneOf"] = [
        {**point, "not": {"required": ["zip"]}},
        {"required": ["zip"], "not": {"anyOf": [{"required": ["lat"]}, {"required": ["lon"]}]}},
    ]


class DestinationSpec(_Strict):
    """Where an order ships: `lat` and `lon`, or a postal code `zip` (5 digits, or a US
    ZIP+4) of `country` (the network's carrier's country when left out). Only US postal
    codes are placed; another country's are refused, asking for lat and lon."""

    model_config = ConfigDict(json_schema_extra=_one_form_schema)

    lat: Latitude | None = None
    lon: Longitude | None = None
    zip: Annotated[str, Field(min_length=5, max_length=10, pattern=ZIP_PATTERN)] | None = None
    residential: bool = True
    country: CountryCode | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "DestinationSpec":
        nulls = [n for n in ("lat", "lon", "zip") if n in self.model_fields_set and
                 getattr(self, n) is None]  # fmt: skip
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: leave out what does not apply (not null)")
        check_form(self.lat, self.lon, self.zip)
        return self


class LineSpec(_Strict):
    sku: Id
    qty: Annotated[int, Field(ge=1, le=MAX_QTY)]


class OrderSpec(_Strict):
    id: Id
    destination: DestinationSpec
    lines: Annotated[list[LineSpec], Field(min_length=1)]


class ServiceLevelSpec(_Strict):
    """A carrier's service: transit days by zone (from the rate card's first zone; zones
    past the list take its last entry), the weekdays and holidays it works, its price as a
    multiple of the rate card, the window after the promised day, the customer's local time
    it delivers by, and the farthest zone it serves."""

    name: Id
    transit_days: Annotated[list[Annotated[int, Field(ge=0, le=60)]], Field(min_length=1)]
    delivery_weekdays: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = [
        "mon", "tue", "wed", "thu", "fri"
    ]  # fmt: skip
    holidays: bool = True
    closed_dates: Annotated[list[IsoDate], Field(max_length=1000)] = []
    rate_factor: Annotated[float, Field(gt=0, le=100)] = 1.0
    window_days: Annotated[int, Field(ge=0, le=30)] = 0
    delivery_by: LocalTime = "20:00"
    max_zone: Annotated[int, Field(ge=0, le=1000)] | None = None


class CarrierSpec(_Strict):
    """The network's carrier: whose holidays it and the nodes keep (country, region), its
    service levels (left out: the country's demo levels, US or IT) and the level that
    carries ship-to-store (left out: the first)."""

    country: CountryCode = "US"
    subdivision: Annotated[str, Field(min_length=1, max_length=10)] | None = None
    service_levels: Annotated[list[ServiceLevelSpec], Field(min_length=1)] | None = None
    ship_to_store: Id | None = None

    @model_validator(mode="after")
    def _usable(self) -> "CarrierSpec":
        if why := check_region(self.country, self.subdivision):
            raise ValueError(why)
        return self


class ProblemSpec(_Strict):
    format: Literal["sourcing-problem/1"]
    name: str = ""
    nodes: Annotated[list[NodeSpec], Field(min_length=1)]
    items: list[ItemSpec]
    inventory: list[InventorySpec]
    cost_model: CostModelSpec
    unfilled_penalty_per_unit: Money
    split_penalty: Money = 0.0
    max_shipments_per_order: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = None
    carrier: CarrierSpec | None = None
    orders: list[OrderSpec]


class SettingsSpec(_Strict):
    """The network settings document (GET/PUT /v1/settings, `sourcing-engine settings
    export/import`): every field but cost_model may be left out (its default). version:
    the version the document was read at (a change is refused if the stored one moved on);
    currency: the cost model's, shown for reading (given, it must agree)."""

    cost_model: CostModelSpec
    carrier: CarrierSpec = CarrierSpec()
    unfilled_penalty_per_unit: Annotated[float, Field(ge=0, le=1e9)] = 1_000_000.0
    split_penalty: Annotated[float, Field(ge=0, le=1e9)] = 0.0
    max_shipments_per_order: Annotated[int, Field(ge=1, le=1000), Whole] | None = None
    default_service_level: Id | None = None
    postal_country: CountryCode | None = None
    pickup_days: Annotated[int, Field(ge=1, le=MAX_PICKUP_DAYS), Whole] = DEFAULT_PICKUP_DAYS
    hold_minutes: Annotated[int, Field(ge=1, le=MAX_HOLD_MINUTES), Whole] | None = None
    move_threshold: Annotated[float, Field(ge=0, le=1e9)] = DEFAULT_MOVE_THRESHOLD
    reoptimize_every_minutes: Annotated[int, Field(ge=1, le=24 * 60), Whole] = (
        DEFAULT_REOPTIMIZE_MINUTES
    )
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    version: Annotated[int, Field(ge=0, le=MAX_COUNT), Whole] | None = None


def settings_from_spec(spec: SettingsSpec) -> NetworkSettings:
    """The settings of a document (InputError naming each field that cannot be used)."""
    shipping = _cost_model(spec.cost_model)
    carrier = carrier_from_spec(spec.carrier, shipping)
    if spec.currency is not None and spec.currency != carrier.currency:
        raise InputError(
            f"currency: {spec.currency!r} differs from the cost model's {carrier.currency!r}; "
            "set cost_model.currency (or leave currency out)"
        )
    try:
        return NetworkSettings(
            carrier, spec.unfilled_penalty_per_unit, spec.split_penalty,
            spec.max_shipments_per_order, spec.default_service_level, spec.postal_country,
            pickup_days=spec.pickup_days, hold_minutes=spec.hold_minutes,
            move_threshold=spec.move_threshold,
            reoptimize_every_minutes=spec.reoptimize_every_minutes,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(str(exc)) from None


def settings_from_data(data: Any, what: str = "settings") -> tuple[NetworkSettings, int | None]:
    """The settings of a JSON document and the version it was read at (None: not given)."""
    try:
        spec = SettingsSpec.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, data, SettingsSpec)
        raise InputError([f"{what}: {p}" for p in problems]) from None
    try:
        return settings_from_spec(spec), spec.version
    except InputError as exc:
        raise InputError([f"{what}: {p}" for p in exc.problems]) from None


def settings_to_data(settings: NetworkSettings, resolved: bool = True) -> dict[str, Any]:
    """The document of the settings, every field written out (with version and currency).
    resolved=False: the default service level and postal country as set (None: follow the
    carrier), as the store keeps them."""
    level, postal = settings.default_service_level, settings.postal_country
    return {
        "version": settings.version,
        "currency": settings.currency,
        "cost_model": cost_model_to_data(settings.carrier.shipping),
        "carrier": carrier_to_data(settings.carrier),
        "unfilled_penalty_per_unit": settings.unfilled_penalty_per_unit,
        "split_penalty": settings.split_penalty,
        "max_shipments_per_order": settings.max_shipments_per_order,
        "default_service_level": settings.service_level.name if resolved else level,
        "postal_country": settings.postal if resolved else postal,
        "pickup_days": settings.pickup_days,
        "hold_minutes": settings.hold_minutes,
        "move_threshold": settings.move_threshold,
        "reoptimize_every_minutes": settings.reoptimize_every_minutes,
    }


# --- plan -------------------------------------------------------------------------------


class PlanLine(_Strict):
    sku: Id
    qty: Annotated[int, Field(ge=1)]


class PlanShipment(_Strict):
    node: Id
    lines: Annotated[list[PlanLine], Field(min_length=1)]
    cost: float


class PlanOrder(_Strict):
    id: Id
    cost: float
    shipments: list[PlanShipment]
    unfilled: list[PlanLine]


class PlanSpec(_Strict):
    format: Literal["sourcing-plan/1"] = "sourcing-plan/1"
    policy: str
    status: str
    currency: str = "USD"
    objective: float
    bound: float | None
    gap: float | None
    runtime_s: float
    orders: list[PlanOrder]


# --- reading ----------------------------------------------------------------------------


def load_json(text: str | bytes, what: str) -> Any:
    """Parse JSON, turning a syntax error into a message with line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{what}: not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise InputError(f"{what}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{what}: not valid JSON ({exc})") from None


def _where(loc: Sequence[int | str], data: Any) -> str:
    """Render a pydantic location as orders[3] (id "A-17").lines[0].qty."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping):
                out += _label(node)
        else:
            if part in ("linear", "parcel") and isinstance(node, Mapping):
                continue  # discriminated-union tag, not a field
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, Mapping) else None
    return out or "(document)"


def _label(entry: Mapping[str, Any]) -> str:
    """' (id "A-17")' or ' (node "S1", sku "X")': which entry, in the user's own ids."""
    keys = (
        ["id"]
        if isinstance(entry.get("id"), str)
        else [k for k in ("node", "sku") if isinstance(entry.get(k), str)]
    )
    parts = [f'{k} "{entry[k]}"' for k in keys]
    return f" ({', '.join(parts)})" if parts else ""


def _pydantic_problems(
    exc: ValidationError, data: Any, root: type[BaseModel] | None = None
) -> list[str]:
    """Each problem as 'where: what was expected'; root: the model validated (the problem
    document's by default), whose fields an unknown field's message lists."""
    problems = []
    for err in exc.errors(include_url=False):
        msg = err["msg"].removeprefix("Value error, ")
        where = _where(err["loc"], data)
        given = err.get("input")
        if err["type"] == "extra_forbidden":
            msg = _unknown_field(err["loc"], root or ProblemSpec)
        elif err["type"] in ("model_type", "model_attributes_type"):
            msg = "expected a JSON object"  # not pydantic's "instance of CapacitySpec"
        elif err["type"] in ("union_tag_not_found", "union_tag_invalid"):
            # a cost model without a recognised "type": point at the field itself
            where += ".type"
            msg = 'expected "linear" or "parcel"'
            given = given.get("type") if isinstance(given, Mapping) else None
            if err["type"] == "union_tag_not_found":
                msg = f"missing; {msg}"
        shown = (
            ""
            if isinstance(given, (dict, list)) or err["type"] in ("missing", "union_tag_not_found")
            else (f" (got {json.dumps(given) if _jsonable(given) else repr(given)})")
        )
        problems.append(f"{where}: {msg}{shown}")
    return problems


def _unknown_field(loc: Sequence[int | str], root: type[BaseModel]) -> str:
    """'unknown field; expected one of: ... (did you mean "safety_stock"?)'."""
    model = _model_at(loc[:-1], root)
    if model is None:
        return "unknown field"
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f"unknown field; expected one of: {', '.join(known)}{hint}"


def _model_at(loc: Sequence[int | str], root: type[BaseModel]) -> type[BaseModel] | None:
    """The spec model that validates the entry at a pydantic location."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            tp = get_args(tp)[0] if get_origin(tp) is list else None
        elif _is_model(tp) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif get_origin(tp) in (Union, types.UnionType):  # tagged union: part is the tag
            tags = {t: m for m in get_args(tp) if _is_model(m) for t in get_args(_tag(m)) or ()}
            tp = tags.get(part)
        else:
            return None
    tp = _unwrap(tp)
    return tp if _is_model(tp) else None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _tag(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("type")
    return field.annotation if field else None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and `| None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        else:
            return tp


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def _cost_model(spec: LinearCostSpec | ParcelCostSpec) -> ShipmentCostModel:
    if isinstance(spec, LinearCostSpec):
        return LinearCost(spec.per_shipment, spec.per_unit, spec.per_unit_mile, spec.currency)
    base = RATE_CARDS[spec.rate_card]() if spec.rate_card else None
    bands = (
        tuple(spec.zone_bands_miles)
        if spec.zone_bands_miles is not None
        else (base.zone_bands_miles if base else default_us_ground().zone_bands_miles)
    )
    first_zone = (
        spec.first_zone if spec.first_zone is not None else (base.first_zone if base else 2)
    )
    if spec.rates is not None:
        zones = [str(first_zone + i) for i in range(len(bands) + 1)]
        missing = [z for z in zones if z not in spec.rates]
        extra = [z for z in spec.rates if z not in zones]
        if missing or extra:
            raise InputError(
                f"cost_model.rates: expected one price list per zone {', '.join(zones)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        rates = tuple(tuple(spec.rates[z]) for z in zones)
    else:
        assert base is not None  # the spec validator demands rate_card or rates
        rates = base.rates
    try:
        return ParcelCost(
            rates=rates,
            zone_bands_miles=bands,
            first_zone=first_zone,
            dim_divisor=spec.dim_divisor or (base.dim_divisor if base else 139.0),
            fuel_surcharge_pct=_first(
                spec.fuel_surcharge_pct, base.fuel_surcharge_pct if base else None
            ),
            residential_surcharge=_first(
                spec.residential_surcharge, base.residential_surcharge if base else None
            ),
            currency=spec.currency or (base.currency if base else "USD"),
        )
    except ValueError as exc:
        raise InputError(f"cost_model: {exc}") from None


def _first(value: float | None, fallback: float | None) -> float:
    return value if value is not None else (fallback or 0.0)


def _duplicates(ids: Sequence[str]) -> list[tuple[int, int, str]]:
    """(index, index of the first use, id) of every entry that repeats an earlier id."""
    first: dict[str, int] = {}
    dup: list[tuple[int, int, str]] = []
    for k, i in enumerate(ids):
        if i in first:
            dup.append((k, first[i], i))
        else:
            first[i] = k
    return dup


def problem_from_json(text: str | bytes, what: str = "problem") -> Batch:
    """Read a `sourcing-problem/1` document; raise InputError listing every problem."""
    return problem_from_data(load_json(text, what))


def problem_from_data(data: Any) -> Batch:
    """Validate a parsed `sourcing-problem/1` document and build the domain batch."""
    if not isinstance(data, Mapping):
        raise InputError("problem: expected a JSON object with format, nodes, items, ...")
    if data.get("format") != PROBLEM_FORMAT:
        raise InputError(
            f'format: expected "{PROBLEM_FORMAT}", got {json.dumps(data.get("format"))}'
        )
    try:
        spec = ProblemSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(_pydantic_problems(exc, data)) from None
    return batch_from_spec(spec)


def batch_from_spec(spec: ProblemSpec) -> Batch:
    """Cross-check ids and references, geocode ZIP codes, and build the domain batch."""
    problems: list[str] = []
    for what, field, ids in (
        ("nodes", "id", [n.id for n in spec.nodes]),
        ("items", "sku", [i.sku for i in spec.items]),
        ("orders", "id", [o.id for o in spec.orders]),
    ):
        for k, first, dup in _duplicates(ids):
            problems.append(
                f'{what}[{k}] ({field} "{dup}").{field}: already used by {what}[{first}]; '
                f"expected each {field} once"
            )
    country = spec.carrier.country if spec.carrier else "US"
    calendars = [_calendar(k, node, country, problems) for k, node in enumerate(spec.nodes)]
    node_index = {n.id: i for i, n in enumerate(spec.nodes)}
    item_index = {it.sku: i for i, it in enumerate(spec.items)}

    inv_node = np.empty(len(spec.inventory), dtype=np.int64)
    inv_item = np.empty(len(spec.inventory), dtype=np.int64)
    position: dict[tuple[str, str], int] = {}
    for k, row in enumerate(spec.inventory):
        where = f'inventory[{k}] (node "{row.node}", sku "{row.sku}")'
        n = node_index.get(row.node, -1)
        s = item_index.get(row.sku, -1)
        if n < 0:
            problems.append(f'{where}.node: unknown node "{row.node}" (not listed in nodes)')
        if s < 0:
            problems.append(f'{where}.sku: unknown SKU "{row.sku}" (not listed in items)')
        first = position.setdefault((row.node, row.sku), k)
        if first != k:
            problems.append(
                f"{where}: same node and SKU as inventory[{first}]; "
                "expected one entry per node and SKU"
            )
        inv_node[k], inv_item[k] = n, s

    orders: list[Order] = []
    for k, o in enumerate(spec.orders):
        where = f'orders[{k}] (id "{o.id}")'
        for j, line in enumerate(o.lines):
            if line.sku not in item_index:
                problems.append(
                    f'{where}.lines[{j}].sku: unknown SKU "{line.sku}" (not listed in items)'
                )
        d = o.destination
        try:
            found = destination(d.lat, d.lon, d.zip, d.residential, d.country or country)
        except NoPostalData as exc:
            problems.append(f"{where}.{exc}")
            continue
        if found is None:
            problems.append(
                f'{where}.destination.zip: unknown US ZIP code "{d.zip}" '
                "(expected a 5-digit ZIP or ZIP+4 such as 10001 or 10001-1234)"
            )
            found = Destination(math.nan, math.nan, d.residential, d.zip)
        # the same SKU on two lines is one demand: summed, as a warehouse would pick it
        orders.append(Order.of(o.id, found, [(ln.sku, ln.qty) for ln in o.lines]))
    try:
        shipping = _cost_model(spec.cost_model)
    except InputError as exc:
        problems.extend(exc.problems)
        shipping = default_us_ground()
    carrier = None
    if spec.carrier is not None:
        try:
            carrier = carrier_from_spec(spec.carrier, shipping)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)

    inventory = Inventory(
        node=inv_node,
        item=inv_item,
        on_hand=np.array([r.on_hand for r in spec.inventory], dtype=np.int64),
        safety_stock=np.array([r.safety_stock for r in spec.inventory], dtype=np.int64),
    )
    return Batch(
        nodes=tuple(
            Node(
                id=n.id,
                kind=n.kind,
                lat=n.lat,
                lon=n.lon,
                ship_capacity=n.capacity.shipments,
                unit_capacity=n.capacity.units,
                handling_per_shipment=n.handling.per_shipment,
                handling_per_unit=n.handling.per_unit,
                ship_enabled=n.ship_enabled,
                calendar=calendar,
            )
            for n, calendar in zip(spec.nodes, calendars, strict=True)
        ),
        items=tuple(
            Item(i.sku, i.weight_lb, (i.dims_in[0], i.dims_in[1], i.dims_in[2])) for i in spec.items
        ),
        inventory=inventory,
        shipping=shipping,
        penalties=OrderPenalties(
            unfilled_per_unit=spec.unfilled_penalty_per_unit,
            split=spec.split_penalty,
            max_shipments=spec.max_shipments_per_order or UNLIMITED,
        ),
        orders=tuple(orders),
        name=spec.name,
        carrier=carrier,
    )


def _calendar(k: int, node: NodeSpec, country: str, problems: list[str]) -> NodeCalendar:
    """A node's calendar; what cannot be used is added to `problems`."""
    where = f'nodes[{k}] (id "{node.id}").calendar'
    try:
        calendar = node.calendar.record() if node.calendar else NodeCalendar()
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return NodeCalendar()
    problems += [f"{where}: {why}" for why in calendar_checks(calendar, node.kind, country)]
    return calendar


def carrier_from_spec(spec: CarrierSpec, shipping: ShipmentCostModel) -> Carrier:
    """The carrier of a spec, on the network's rate card (InputError naming the field)."""
    bands, first_zone = zones_of(spec.country, shipping)
    if spec.service_levels is None:
        transit, levels = default_levels(spec.country)
        transit = TransitTable(transit.days, first_zone=first_zone)
    else:
        zones = {len(lv.transit_days) for lv in spec.service_levels}
        if len(zones) != 1:
            raise InputError(
                "carrier.service_levels[*].transit_days: expected the same number of zones "
                f"for every level, got {', '.join(str(z) for z in sorted(zones))}"
            )
        transit = TransitTable(
            {lv.name: tuple(lv.transit_days) for lv in spec.service_levels}, first_zone=first_zone
        )
        levels = tuple(_service_level(lv) for lv in spec.service_levels)
    try:
        return Carrier(
            spec.country, shipping, transit, levels, spec.subdivision, spec.ship_to_store, bands
        )
    except ValueError as exc:
        raise InputError(f"carrier: {exc}") from None


def _service_level(spec: ServiceLevelSpec) -> ServiceLevel:
    return ServiceLevel(
        name=spec.name,
        delivery_weekdays=tuple(WEEKDAYS.index(d) for d in spec.delivery_weekdays),
        holidays=spec.holidays,
        closed_dates=tuple(dt.date.fromisoformat(d) for d in spec.closed_dates),
        rate_factor=spec.rate_factor,
        window_days=spec.window_days,
        delivery_by=dt.time.fromisoformat(spec.delivery_by),
        max_zone=spec.max_zone,
    )


def carrier_to_data(carrier: Carrier) -> dict[str, Any]:
    """The `carrier` entry of a problem document (its levels left out when they are the
    country's demo levels)."""
    data: dict[str, Any] = {"country": carrier.country}
    if carrier.subdivision:
        data["subdivision"] = carrier.subdivision
    if carrier.levels != default_levels(carrier.country)[1] or (
        carrier.transit.days != default_levels(carrier.country)[0].days
    ):
        data["service_levels"] = [
            {
                "name": lv.name,
                "transit_days": list(carrier.transit.days[lv.name]),
                "delivery_weekdays": [WEEKDAYS[d] for d in lv.delivery_weekdays],
                "holidays": lv.holidays,
                "closed_dates": [d.isoformat() for d in lv.closed_dates],
                "rate_factor": lv.rate_factor,
                "window_days": lv.window_days,
                "delivery_by": lv.delivery_by.strftime("%H:%M"),
                "max_zone": lv.max_zone,
            }
            for lv in carrier.levels
        ]
    if carrier.ship_to_store:
        data["ship_to_store"] = carrier.ship_to_store
    return data


def network_carrier_to_data(carrier: Carrier) -> dict[str, Any]:
    """The carrier with its rate card, as the live service stores it."""
    return {"cost_model": cost_model_to_data(carrier.shipping), **carrier_to_data(carrier)}


def network_carrier_from_data(data: Mapping[str, Any]) -> Carrier:
    """A carrier as `network_carrier_to_data` stored it."""
    rest = {k: v for k, v in data.items() if k != "cost_model"}
    try:
        cost = _COST_MODEL.validate_python(data["cost_model"])
        return carrier_from_spec(CarrierSpec.model_validate(rest), _cost_model(cost))
    except (ValidationError, KeyError) as exc:
        raise InputError(f"stored carrier: {exc}") from None


# --- writing ----------------------------------------------------------------------------


def cost_model_to_data(model: ShipmentCostModel) -> dict[str, Any]:
    if isinstance(model, LinearCost):
        return {
            "type": "linear",
            "currency": model.currency,
            "per_shipment": model.per_shipment,
            "per_unit": model.per_unit,
            "per_unit_mile": model.per_unit_mile,
        }
    if isinstance(model, ParcelCost):
        for name, card in RATE_CARDS.items():
            if card() == model:
                return {"type": "parcel", "rate_card": name}
        return {
            "type": "parcel",
            "currency": model.currency,
            "zone_bands_miles": list(model.zone_bands_miles),
            "first_zone": model.first_zone,
            "rates": {str(model.first_zone + z): list(r) for z, r in enumerate(model.rates)},
            "dim_divisor": model.dim_divisor,
            "fuel_surcharge_pct": model.fuel_surcharge_pct,
            "residential_surcharge": model.residential_surcharge,
        }
    raise TypeError(f"no exchange format for cost model {type(model).__name__}")


def problem_to_data(batch: Batch) -> dict[str, Any]:
    """The `sourcing-problem/1` document of a batch (optional fields left out when unset)."""

    def node(n: Node) -> dict[str, Any]:
        out: dict[str, Any] = {"id": n.id, "kind": n.kind, "lat": n.lat, "lon": n.lon}
        cap = {k: v for k, v in (("shipments", n.ship_capacity), ("units", n.unit_capacity))
               if v is not None}  # fmt: skip
        if cap:
            out["capacity"] = cap
        if n.handling_per_shipment or n.handling_per_unit:
            out["handling"] = {"per_shipment": n.handling_per_shipment,
                               "per_unit": n.handling_per_unit}  # fmt: skip
        if not n.ship_enabled:
            out["ship_enabled"] = False
        calendar = n.calendar.to_data()
        if calendar:
            out["calendar"] = calendar
        return out

    def order(o: Order) -> dict[str, Any]:
        d = o.destination
        dest: dict[str, Any] = {"zip": d.zip} if d.zip else {"lat": d.lat, "lon": d.lon}
        if not d.residential:
            dest["residential"] = False
        return {"id": o.id, "destination": dest,
                "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in o.lines]}  # fmt: skip

    inv = batch.inventory
    node_ids = [n.id for n in batch.nodes]
    skus = [i.sku for i in batch.items]
    inventory = [
        {"node": node_ids[n], "sku": skus[s], "on_hand": int(h)}
        | ({"safety_stock": int(ss)} if ss else {})
        for n, s, h, ss in zip(
            inv.node.tolist(), inv.item.tolist(), inv.on_hand.tolist(),
            inv.safety_stock.tolist(), strict=True,
        )
    ]  # fmt: skip
    pen = batch.penalties
    data: dict[str, Any] = {"format": PROBLEM_FORMAT}
    if batch.name:
        data["name"] = batch.name
    data |= {
        "nodes": [node(n) for n in batch.nodes],
        "items": [
            {"sku": i.sku, "weight_lb": i.weight_lb, "dims_in": list(i.dims_in)}
            for i in batch.items
        ],
        "inventory": inventory,
        "cost_model": cost_model_to_data(batch.shipping),
        "unfilled_penalty_per_unit": pen.unfilled_per_unit,
        "split_penalty": pen.split,
    }
    if pen.max_shipments != UNLIMITED:
        data["max_shipments_per_order"] = pen.max_shipments
    if batch.carrier is not None:
        data["carrier"] = carrier_to_data(batch.carrier)
    data["orders"] = [order(o) for o in batch.orders]
    return data


def plan_spec(result: Result, plans: Sequence[Plan], currency: str) -> PlanSpec:
    """The `sourcing-plan/1` document of a policy's result and its orders' plans."""

    def lines(found: Sequence[Line]) -> list[PlanLine]:
        return [PlanLine(sku=ln.sku, qty=ln.qty) for ln in found]

    return PlanSpec(
        policy=result.policy,
        status=str(result.status),
        currency=currency,
        objective=round(result.objective, 6),
        bound=None if result.bound is None else round(result.bound, 6),
        gap=result.gap,
        runtime_s=round(result.runtime_s, 4),
        orders=[
            PlanOrder(
                id=p.order_id,
                cost=p.cost,
                shipments=[
                    PlanShipment(node=s.node, lines=lines(s.lines), cost=s.cost)
                    for s in p.shipments
                ],
                unfilled=lines(p.unfilled),
            )
            for p in plans
        ],
    )


def plan_from_json(text: str | bytes, what: str = "plan") -> PlanSpec:
    data = load_json(text, what)
    try:
        return PlanSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError([f"{what}: {p}" for p in _pydantic_problems(exc, data)]) from None
