"""Declared purposes: what the application is for, and the uses the policy forbids outright.

The restricted-use page and I.F.5.d/e forbid whole purposes (surveillance, background checks,
benchmarking Twitter, off-platform ad targeting, ...), whatever the API call. The application
declares its purposes from `PURPOSES`; a prohibited one is refused when the guard is built,
and an action that names a purpose (``facts={"purpose": ...}``) is refused when that purpose
is prohibited, unknown, or not among those declared. Two screening rules read what a query
says: ``purpose.query_screen`` flags search queries and stream rules that name sensitive
events or follow a single account, ``purpose.platform_counts`` flags count queries that
measure the whole platform. Both warn by default (``default_mode``): a query is evidence of
a purpose, not proof; enforce them with ``rule_modes={"purpose.query_screen": "enforce"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Mode, Outcome
from twpolicy.exceptions import ConfigurationError, PolicyViolation, ProhibitedPurpose
from twpolicy.rules._context import RuleContext

__all__ = [
    "PURPOSES",
    "QUERY_OPERATIONS",
    "SENSITIVE_EVENT_TERMS",
    "Purpose",
    "check_purposes",
    "declared_purposes",
    "flag_platform_counts",
    "screen_queries",
]


@attrs.frozen(kw_only=True)
class Purpose:
    """One entry of the purpose vocabulary.

    Attributes:
        name: the identifier used in configuration and in ``facts["purpose"]``.
        prohibited: whether the policy forbids it outright.
        clause: the clause that forbids it (for a prohibited purpose).
        description: what it means, in one line.
    """

    name: str
    prohibited: bool
    description: str
    clause: str = ""


def _allowed(name: str, description: str) -> Purpose:
    return Purpose(name=name, prohibited=False, description=description)


def _prohibited(name: str, clause: str, description: str) -> Purpose:
    return Purpose(name=name, prohibited=True, clause=clause, description=description)


#: The documented vocabulary of purposes, allowed ones first.
PURPOSES: Mapping[str, Purpose] = {
    p.name: p
    for p in (
        _allowed("publishing", "Posting and managing content on users' behalf."),
        _allowed("customer_care", "Answering users who contact the application's owner."),
        _allowed("content_display", "Showing Tweets and profiles to the application's users."),
        _allowed("brand_monitoring", "Following public conversation about the owner's brand."),
        _allowed(
            "aggregate_analysis", "Analysis of content in aggregate that keeps no personal data."
        ),
        _allowed("academic_research", "Non-commercial research for an academic institution."),
        _allowed("moderation", "Keeping the application's own spaces free of abuse and spam."),
        _prohibited("surveillance", "RU.surveillance", "Surveillance by any entity."),
        _prohibited(
            "tracking_users", "RU.surveillance.2", "Investigating or tracking Twitter users."
        ),
        _prohibited(
            "tracking_sensitive_events",
            "RU.surveillance.2",
            "Tracking, alerting on or monitoring protests, rallies or organising meetings.",
        ),
        _prohibited(
            "tracking_sensitive_groups",
            "RU.surveillance.a",
            "Investigating or tracking unions, activist groups and similar organisations.",
        ),
        _prohibited("background_checks", "RU.surveillance.b", "Background checks or vetting."),
        _prohibited(
            "credit_or_insurance_risk", "RU.surveillance.c", "Credit or insurance risk analyses."
        ),
        _prohibited(
            "individual_profiling",
            "RU.surveillance.d",
            "Individual profiling or psychographic segmentation.",
        ),
        _prohibited("facial_recognition", "RU.surveillance.e", "Facial recognition."),
        _prohibited(
            "sensitive_inference",
            "RU.sensitive-information",
            "Deriving or inferring a user's health, politics, religion and other sensitive traits.",
        ),
        _prohibited(
            "benchmarking",
            "I.F.5.d",
            "Measuring Twitter's availability, performance or usage, or competitive comparison.",
        ),
        _prohibited(
            "platform_metrics",
            "RU.measuring.a",
            "Calculating platform-wide user, Tweet or engagement totals.",
        ),
        _prohibited(
            "off_platform_ad_targeting",
            "I.F.5.e",
            "Targeting ads at users outside Twitter with Twitter Content.",
        ),
    )
}

#: Words that mark a query as about a sensitive event or group (RU.surveillance.2, .a).
SENSITIVE_EVENT_TERMS: tuple[str, ...] = (
    "protest",
    "protests",
    "protester",
    "protesters",
    "rally",
    "rallies",
    "march",
    "demonstration",
    "demonstrators",
    "riot",
    "strike",
    "picket",
    "walkout",
    "sit-in",
    "vigil",
    "organizing meeting",
    "organising meeting",
    "union meeting",
    "activist",
    "activists",
)


def check_purposes(purposes: Iterable[object]) -> tuple[Purpose, ...]:
    """The purposes named, checked against the vocabulary.

    Raises:
        ConfigurationError: a name is not in `PURPOSES`, or names a prohibited purpose.
    """
    if isinstance(purposes, str):
        purposes = (purposes,)
    checked = []
    for name in purposes:
        purpose = PURPOSES.get(name) if isinstance(name, str) else None
        if purpose is None:
            allowed = sorted(n for n, p in PURPOSES.items() if not p.prohibited)
            raise ConfigurationError(
                f"unknown purpose {name!r}; declare purposes from the documented vocabulary "
                f"(docs/purposes.md): {allowed}"
            )
        if purpose.prohibited:
            raise ConfigurationError(
                f"purpose {name!r} is prohibited by {purpose.clause} ({purpose.description}); "
                "the Developer Policy allows no application for it, so no guard is built. "
                "Remove it from the declared purposes."
            )
        checked.append(purpose)
    return tuple(checked)


@attrs.frozen(repr=False)
class _DeclaredPurposes:
    id: ClassVar[str] = "purpose.declared"
    clause: ClassVar[str] = "RU.surveillance"
    error: ClassVar[type[PolicyViolation]] = ProhibitedPurpose
    #: Every kind the application describes; stream payloads come from Twitter, not from it.
    kinds: ClassVar[frozenset[ActionKind]] = frozenset(ActionKind) - {ActionKind.STREAM_DATA}

    declared: tuple[Purpose, ...] = ()

    def __repr__(self) -> str:
        return f"twpolicy.rules.declared_purposes({[p.name for p in self.declared]!r})"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """The outcome depends on the action's facts only."""
        return True

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        name = action.facts.get("purpose")
        if name is None:
            return None
        purpose = PURPOSES.get(name) if isinstance(name, str) else None
        declared = [p.name for p in self.declared]
        if purpose is None:
            return Outcome.deny(
                "unknown_purpose",
                f"{action.operation} names purpose {name!r}, which is not in the documented "
                "vocabulary, so it cannot be checked; refused.",
                "name one of the purposes in twpolicy.rules.PURPOSES (docs/purposes.md) in "
                "facts={'purpose': ...}.",
            )
        if purpose.prohibited:
            outcome = Outcome.deny(
                "prohibited_purpose",
                f"{action.operation} is done for {purpose.name} ({purpose.description}), "
                "which the policy prohibits outright; refused.",
                "do not use Twitter data for this purpose; no setting allows it.",
                facts={"purpose": purpose.name},
            )
            return attrs.evolve(outcome, clause=purpose.clause)
        if declared and purpose.name not in declared:
            return Outcome.deny(
                "undeclared_purpose",
                f"{action.operation} is done for {purpose.name}, which is not among the "
                f"application's declared purposes {declared}; refused.",
                f"add it to the declared purposes: purposes = {[*declared, purpose.name]!r} "
                "in the [twpolicy] table, or twpolicy.rules.default(purposes=[...]).",
                facts={"purpose": purpose.name},
            )
        return Outcome.allow("declared_purpose", facts={"purpose": purpose.name})


def declared_purposes(purposes: Iterable[str] = ()) -> _DeclaredPurposes:
    """Refuse actions done for prohibited, unknown or undeclared purposes.

    Raises:
        ConfigurationError: a declared purpose is unknown or prohibited.
    """
    return _DeclaredPurposes(check_purposes(purposes))


#: Operations whose request carries a query, and where the query is in their payload.
_QUERY_KEYS = {
    "GET /2/tweets/search/recent": "query",
    "GET /2/tweets/search/all": "query",
    "GET /2/tweets/counts/recent": "query",
    "GET /2/tweets/counts/all": "query",
    "POST /2/tweets/search/stream/rules": "add",
    "GET /1.1/search/tweets.json": "q",
}
#: The operations whose query the guarded clients hand to the rules.
QUERY_OPERATIONS = frozenset(_QUERY_KEYS)
_COUNTS = frozenset({"GET /2/tweets/counts/recent", "GET /2/tweets/counts/all"})


def queries(action: Action) -> Iterator[str]:
    """The query texts an action carries: a search query, or each stream rule added."""
    key = _QUERY_KEYS.get(action.operation)
    payload = action.payload
    if key is None or not isinstance(payload, Mapping):
        return
    value: Any = payload.get(key)
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for rule in value:
            text = rule.get("value") if isinstance(rule, Mapping) else rule
            if isinstance(text, str):
                yield text


_ACCOUNT = re.compile(r"^\(?\s*(?:from:|to:|@|retweets_of:)\w+\s*\)?$", re.IGNORECASE)
_OPERATOR = re.compile(r"^-?(?:is|has|lang|place_country|sample):\S*$", re.IGNORECASE)


def _terms(query: str) -> list[str]:
    return [t for t in re.split(r"\s+|\bOR\b", query.strip()) if t]


def single_account(query: str) -> bool:
    """Whether the query follows exactly one account (``from:x``, ``@x``, plus filters)."""
    terms = [t for t in _terms(query) if not _OPERATOR.match(t)]
    return len(terms) == 1 and bool(_ACCOUNT.match(terms[0]))


def platform_wide(query: str) -> bool:
    """Whether a count query selects no topic at all: only filters such as ``lang:en``."""
    return all(_OPERATOR.match(t) for t in _terms(query))


@attrs.frozen(repr=False)
class _ScreenQueries:
    id: ClassVar[str] = "purpose.query_screen"
    clause: ClassVar[str] = "RU.surveillance.2"
    error: ClassVar[type[PolicyViolation]] = ProhibitedPurpose
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})
    default_mode: ClassVar[Mode] = Mode.WARN

    terms: tuple[str, ...] = SENSITIVE_EVENT_TERMS
    _pattern: re.Pattern[str] = attrs.field(init=False)

    @_pattern.default
    def _compile(self) -> re.Pattern[str]:
        words = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        return re.compile(rf"(?<![\w#@-])#?({words})(?![\w-])", re.IGNORECASE)

    def __repr__(self) -> str:
        return f"twpolicy.rules.screen_queries(terms={len(self.terms)})"

    def static_for(self, action: Action) -> bool:
        """Only queries are read, from the action itself."""
        return action.operation not in _QUERY_KEYS

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        texts = list(queries(action))
        if not texts:
            return None
        for number, query in enumerate(texts, 1):
            found = self._pattern.search(query) if self.terms else None
            if found is not None:
                term = found.group(1).lower()
                return Outcome.deny(
                    "sensitive_event_terms",
                    f"{action.operation}: query {number} names the sensitive-event term "
                    f"{term!r}; tracking, alerting on or monitoring protests, rallies or "
                    "organising meetings, or sensitive groups, is prohibited.",
                    "drop the term if the query is not about tracking such events or groups; "
                    "if it is, the application may not do it. If your use is lawful and "
                    "allowed (news display, aggregate research), say so in a rule mode: "
                    "rule_modes={'purpose.query_screen': 'monitor'}.",
                    facts={"term": term, "query_number": number},
                )
            if single_account(query):
                return Outcome.deny(
                    "single_account_tracking",
                    f"{action.operation}: query {number} follows one account alone, which is "
                    "how tracking an individual user looks; investigating or tracking Twitter "
                    "users is prohibited.",
                    "query topics, not a person; to show one account's own Tweets to that "
                    "user, read their timeline with their consent instead. If your use is "
                    "allowed, set rule_modes={'purpose.query_screen': 'monitor'}.",
                    facts={"query_number": number},
                )
        return Outcome.allow("queries_screened", facts={"queries": len(texts)})


def screen_queries(terms: Iterable[str] = SENSITIVE_EVENT_TERMS) -> _ScreenQueries:
    """Flag search queries and stream rules naming sensitive events or one account.

    Warns by default; enforce with ``rule_modes={"purpose.query_screen": "enforce"}``.
    """
    cleaned = tuple(t.strip().lower() for t in terms if t.strip())
    return _ScreenQueries(cleaned)


@attrs.frozen(repr=False)
class _PlatformCounts:
    id: ClassVar[str] = "purpose.platform_counts"
    clause: ClassVar[str] = "RU.measuring.b"
    error: ClassVar[type[PolicyViolation]] = ProhibitedPurpose
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})
    default_mode: ClassVar[Mode] = Mode.WARN

    def __repr__(self) -> str:
        return "twpolicy.rules.flag_platform_counts()"

    def static_for(self, action: Action) -> bool:
        """Only count queries are read, from the action itself."""
        return action.operation not in _COUNTS

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.operation not in _COUNTS:
            return None
        texts = list(queries(action))
        if texts and not platform_wide(texts[0]):
            return Outcome.allow("topic_count")
        return Outcome.deny(
            "platform_wide_count",
            f"{action.operation} counts Tweets with no topic (only filters such as lang: or "
            "is:), which measures the platform itself; aggregate Tweet metrics of Twitter "
            "are prohibited.",
            "count Tweets about a topic, hashtag or account (a keyword in the query); if the "
            "count is for your own topic, add it to the query.",
        )


def flag_platform_counts() -> _PlatformCounts:
    """Flag Tweet-count queries with no topic: platform-wide metrics (RU.measuring.b)."""
    return _PlatformCounts()
