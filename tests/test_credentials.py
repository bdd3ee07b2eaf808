"""Passwords and the app's own secrets: never stored, exported, logged or shown (I.C.10, I.A.1)."""

import json
import logging

import attrs
import pytest
import tweepy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy._payloads._credentials import CredentialFinding, credential_findings
from twpolicy._stores._secrets import (
    REDACTED,
    RedactSecrets,
    SecretRegistry,
    install_log_filter,
    process_secrets,
)
from twpolicy.rules._credentials import _JSON_START, _texts, _without
from twpolicy.testing import DecisionRecorder, FakeXAPI

SECRET = "Zq8vTn3LrW0pXs7KdY2mBc5HfJ9gUe4A"  # noqa: S105  # a made-up secret
OTHER_SECRET = "Hk2Lm9Qr4St7Uv1Wx5Yz8Ab3Cd6Ef0Gh"  # noqa: S105  # ditto
POINT = {"type": "Point", "coordinates": [-122.41, 37.77]}


@pytest.fixture(name="recorder")
def _recorder():
    """A sink that keeps every decision."""
    return DecisionRecorder()


@pytest.fixture(name="guard")
def _guard(recorder):
    """An enforcing guard with the built-in rules, recording its decisions."""
    return twpolicy.Guard(sinks=[recorder])


class TestSecretRegistry:
    def test_knows_a_registered_secret_by_hash_only(self):
        """A registered secret is recognised, and the registry holds nothing that reads as it."""
        registry = SecretRegistry()
        assert 1 == registry.register([SECRET, None, 42, "short"])
        assert registry.is_secret(SECRET)
        assert not registry.is_secret(OTHER_SECRET)
        assert not registry.is_secret(12345678901234)
        assert SECRET not in repr(registry)
        held = [getattr(registry, name) for name in SecretRegistry.__slots__]
        assert SECRET not in repr(held)
        assert all(32 == len(digest) for digest in registry._digests)

    def test_registering_twice_counts_once(self):
        """The same secret registered again is not new."""
        registry = SecretRegistry()
        registry.register([SECRET])
        assert 0 == registry.register([SECRET])
        assert 1 == len(registry)

    def test_redacts_every_occurrence(self):
        """Each occurrence in a text is replaced, and the rest of the text is kept."""
        registry = SecretRegistry()
        registry.register([SECRET, OTHER_SECRET])
        text = f"a {SECRET} b Bearer {OTHER_SECRET}, and {SECRET}."
        expected = f"a {REDACTED} b Bearer {REDACTED}, and {REDACTED}."
        assert expected == registry.redact(text)
        assert "nothing here" == registry.redact("nothing here")

    def test_secret_with_whitespace_is_found_anywhere(self):
        """A secret holding a space is still found inside longer text."""
        registry = SecretRegistry()
        spaced = "two words secret phrase"
        registry.register([spaced])
        assert f"x{REDACTED}y" == registry.redact(f"x{spaced}y")

    def test_overlapping_secrets_are_cut_out_together(self):
        """Two secrets that overlap leave no part of either."""
        registry = SecretRegistry()
        registry.register(["abcdefghijklmnop", "ijklmnopqrstuvwx"])
        assert f"<{REDACTED}>" == registry.redact("<abcdefghijklmnopqrstuvwx>")

    def test_parent_secrets_count(self):
        """A registry also knows its parent's secrets."""
        parent = SecretRegistry()
        parent.register([SECRET])
        child = SecretRegistry(parent=parent)
        assert child.is_secret(SECRET)
        assert child.contains(f"x {SECRET}")
        assert not child.contains(None)

    def test_clear_forgets(self):
        """A cleared registry knows nothing."""
        registry = SecretRegistry()
        registry.register([SECRET])
        registry.clear()
        assert not registry.is_secret(SECRET)
        assert 0 == len(registry)


_WORDS = st.sampled_from(["hello", "https://t.co/abc", "x" * 40, "  spaced out  ", "1445880548"])
_TEXT = st.one_of(
    _WORDS,
    st.text(max_size=20),
    _WORDS.map(lambda w: f"{w} {SECRET} {w}"),
    _WORDS.map(lambda w: f"https://example.com/{SECRET}?{w}"),
    st.just(SECRET),
    st.just(f'  {{"token": "{SECRET}"}}'),  # JSON text: the full pass reads it
    st.just(f'["\\u005a{SECRET[1:]}"]'),  # JSON text with an escape: read, then found
    st.just(b"bytes " + SECRET.encode()),
)
_PAYLOADS = st.recursive(
    st.one_of(_TEXT, st.integers(), st.none(), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(
            st.one_of(_TEXT.filter(lambda t: isinstance(t, str)), st.integers()), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


class TestQuickSecretPass:
    @settings(max_examples=300, deadline=None)
    @given(payload=_PAYLOADS, long=st.booleans())
    def test_the_quick_pass_never_misses_a_secret(self, payload, long):
        """When the one-scan pass says "no secret", the full walk finds none either."""
        registry = SecretRegistry()
        registry.register([SECRET, OTHER_SECRET + "-longer"])
        if long:
            payload = {"padding": "word " * 1000, "payload": payload}
        full = credential_findings(
            payload, is_secret=registry.is_secret, contains_secret=registry.contains
        )
        hidden = any(f.what == "known_secret" for f in full)
        quick = _without(payload, registry)
        if quick:
            assert not hidden
        texts = _texts(payload)
        plain = texts is not None and all(isinstance(t, str) for t in texts)
        if plain and not _JSON_START.search("\n".join(texts)):
            assert quick == (not hidden)  # where the quick pass applies, it decides

    def test_plain_payloads_are_decided_in_one_scan(self):
        registry = SecretRegistry()
        registry.register([SECRET])
        clean = {"data": [{"id": "1", "text": "hello " * 2000, "urls": ["https://t.co/x"]}]}
        assert _without(clean, registry)
        for where in (
            {"key": SECRET},
            {SECRET: 1},
            ["a", f"see {SECRET}."],
            ("x" * 5000 + SECRET,),
        ):
            assert not _without(where, registry)
        assert not _without({1.5j: "x"}, registry)  # not JSON: the full pass decides
        assert not _without({(1, 2): "x"}, registry)
        spaced = SecretRegistry()
        spaced.register(["a secret with spaces in it"])
        assert not _without(clean, spaced)

    def test_long_texts_are_scanned_run_by_run(self):
        registry = SecretRegistry()
        registry.register([SECRET])
        text = "word " * 2000
        assert not registry.contains(text)
        assert not registry.contains(text)  # remembered clean, run by run
        assert registry.contains(text + f"token={SECRET}&x")
        assert registry.contains(f"{text}\n{SECRET}")
        spaced = SecretRegistry(parent=registry)
        spaced.register(["a secret with spaces in it"])
        assert spaced.contains(text + " a secret with spaces in it ")
        assert spaced.contains(text + SECRET)


class TestCredentialFindings:
    def test_password_field_at_any_depth(self):
        """A filled password field is found wherever it is nested, by its pointer."""
        payload = {"users": [{"name": "ana", "credentials": {"Pass-Word": "hunter2"}}]}
        assert [CredentialFinding("/users/0/credentials/Pass-Word", "password_field")] == (
            credential_findings(payload)
        )

    def test_empty_password_field_is_nothing(self):
        """A field named password but holding nothing keeps no password."""
        assert [] == credential_findings({"password": "", "x_auth_password": None})

    def test_json_text_is_read(self):
        """JSON text, as str or bytes, is read as what it holds."""
        text = json.dumps({"consumer_secret": "abc"})
        assert "password_field" == credential_findings(text)[0].what
        assert "password_field" == credential_findings(text.encode())[0].what
        assert [] == credential_findings("{not json")

    def test_secret_key_is_hidden_in_the_pointer(self):
        """A key that is itself a secret is reported without its text."""
        (finding,) = credential_findings(
            {SECRET: 1}, is_secret=lambda v: v == SECRET, contains_secret=lambda _t: False
        )
        assert "/[secret]" == finding.pointer
        assert SECRET not in finding.pointer

    def test_findings_are_ordered_and_shared_containers_read_once(self):
        """Findings come by pointer; a container met twice is reported once."""
        shared = {"password": "x"}
        assert ["/a/password", "/b/password"] == [
            f.pointer for f in credential_findings({"b": {"password": "y"}, "a": shared})
        ]
        assert ["/0/password"] == [f.pointer for f in credential_findings([shared, shared])]

    def test_tweepy_models_are_read(self):
        """A tweepy model is read as the JSON it holds."""
        user = tweepy.User({"id": "1", "name": "a", "username": "a", "password": "p"})
        assert "password_field" == credential_findings(user)[0].what


class TestStoringCredentials:
    def test_allowed_without_credentials(self, guard, recorder):
        """Data without passwords or secrets is stored, and the decision says why."""
        decision = twpolicy.check_storable({"id_str": "1", "text": "hi"}, guard=guard)
        assert decision.allowed
        assert ("credentials.stored", "no_credentials") in {
            (o.rule, o.reason) for o in recorder.decisions[-1].outcomes
        }

    def test_password_field_is_refused_with_remedy(self, guard):
        """Storing a password is refused under I.C.10, naming the field and the fix."""
        with pytest.raises(twpolicy.CredentialError) as caught:
            twpolicy.check_storable({"screen_name": "ana", "password": "hunter2"}, guard=guard)
        decision = caught.value.decision
        assert ("I.C.10", "password_field") == (decision.clause, decision.reason)
        assert "/password" in decision.message
        assert "OAuth" in decision.remediation
        assert "hunter2" not in str(caught.value)

    def test_mapping_keeps_nothing_refused(self, guard):
        """A guarded mapping refuses the write and keeps nothing."""
        store: dict = {}
        mapping = twpolicy.GeoSafeMapping(store, guard=guard)
        with pytest.raises(twpolicy.CredentialError):
            mapping["ana"] = {"password": "hunter2"}
        assert {} == store

    def test_decorated_function_does_not_run(self, guard):
        """A refused call of a decorated store function never runs it."""
        calls = []

        @twpolicy.no_standalone_geo(guard=guard)
        def save(record):
            calls.append(record)

        with pytest.raises(twpolicy.CredentialError):
            save({"oauth_token_secret": "s"})
        save({"text": "fine"})
        assert [{"text": "fine"}] == calls

    def test_registered_secret_is_refused_under_ia1(self, guard):
        """A value containing the app's own secret is refused under I.A.1, never quoted."""
        guard.register_secrets(SECRET)
        with pytest.raises(twpolicy.CredentialError) as caught:
            twpolicy.check_storable({"note": f"Bearer {SECRET}"}, guard=guard)
        assert ("I.A.1", "client_secret") == (
            caught.value.decision.clause,
            caught.value.decision.reason,
        )
        assert SECRET not in str(caught.value)

    def test_export_of_a_secret_is_refused(self, guard):
        """An export carrying a registered secret is refused like a store."""
        guard.register_secrets(SECRET)
        action = twpolicy.Action(kind="export", operation="send", recipient="x", payload=[SECRET])
        decision = guard.check(action)
        assert decision.denied
        assert ("credentials.stored", "client_secret") in {
            (o.rule, o.reason) for o in decision.outcomes
        }

    def test_guard_without_secret_reader(self):
        """The rule still finds password fields when the context has no secrets."""
        rule = twpolicy.rules.forbid_credentials()
        context = twpolicy.RuleContext(now=twpolicy.Guard().now())
        action = twpolicy.Action(kind="store", operation="s", payload={"pwd": "x"})
        assert "password_field" == rule.evaluate(action, context).reason
        other = twpolicy.Action(kind="display", operation="s", payload={"pwd": "x"})
        assert rule.evaluate(other, context) is None
        assert rule.static_for(other)
        assert "twpolicy.rules.forbid_credentials()" == repr(rule)


class TestClientsRegisterTheirSecrets:
    def test_v2_client_secrets_are_refused_in_stores(self, guard):
        """A guarded client's consumer secret, token secret and bearer token are known."""
        twpolicy.Client(
            bearer_token="B" * 40,
            consumer_key="public-consumer-key",
            consumer_secret=SECRET,
            access_token="1-abc",  # noqa: S106  # made up
            access_token_secret=OTHER_SECRET,
            guard=guard,
        )
        for secret in (SECRET, OTHER_SECRET, "B" * 40):
            with pytest.raises(twpolicy.CredentialError):
                twpolicy.check_storable({"x": secret}, guard=guard)
        assert twpolicy.check_storable({"x": "public-consumer-key"}, guard=guard).allowed

    def test_v1_api_without_guard_registers_process_wide(self, guard):
        """A tweepy.API built without a guard registers its auth handler's secrets for all."""
        twpolicy.API(tweepy.OAuth1UserHandler("key", SECRET, "1-abc", OTHER_SECRET))
        assert guard.secrets.is_secret(SECRET)
        assert guard.secrets.is_secret(OTHER_SECRET)
        assert not guard.secrets.is_secret("key")


class TestXAuth:
    def test_xauth_password_flow_is_refused_before_sending(self, guard):
        """An xAuth request is refused under I.C.10 and nothing is sent."""
        fake = FakeXAPI()
        auth = tweepy.OAuth1UserHandler("key", SECRET, fake.access_token(), OTHER_SECRET)
        api = fake.install(twpolicy.API(auth, guard=guard))
        with pytest.raises(twpolicy.CredentialError) as caught:
            api.request(
                "POST",
                "oauth/access_token",
                params={
                    "x_auth_username": "ana",
                    "x_auth_password": "hunter2",
                    "x_auth_mode": "client_auth",
                },
            )
        decision = caught.value.decision
        assert ("credentials.xauth", "I.C.10") == (decision.rule, decision.clause)
        assert "OAuth" in decision.remediation
        assert "hunter2" not in str(caught.value)
        assert [] == fake.requests

    def test_other_unknown_routes_stay_unknown(self, guard):
        """A request without xAuth parameters is left to the endpoint catalog."""
        action = twpolicy.Action(kind="api_call", operation="POST /1.1/x.json", payload={"a": "1"})
        decision = guard.check(action)
        assert "endpoint.known" == decision.rule

    def test_nested_parameters_and_other_kinds(self):
        """xAuth parameters nested in params are found; other kinds are not judged."""
        rule = twpolicy.rules.refuse_xauth()
        context = twpolicy.RuleContext(now=twpolicy.Guard().now())
        nested = twpolicy.Action(
            kind="api_call", operation="POST /x", payload={"params": {"X_Auth_Password": "p"}}
        )
        assert "xauth_password_flow" == rule.evaluate(nested, context).reason
        assert rule.evaluate(twpolicy.Action(kind="store", operation="s"), context) is None
        listed = twpolicy.Action(kind="api_call", operation="POST /x", payload=["x_auth_mode"])
        assert rule.evaluate(listed, context) is None
        assert rule.static_for(nested)
        assert "twpolicy.rules.refuse_xauth()" == repr(rule)


class TestLogFilter:
    def test_log_lines_are_redacted(self, caplog):
        """A twpolicy log line quoting a registered secret shows it redacted, traceback too."""
        install_log_filter()
        process_secrets().register([SECRET])
        logger = logging.getLogger("twpolicy")
        with caplog.at_level(logging.DEBUG, logger="twpolicy"):
            try:
                raise ValueError(SECRET)  # noqa: TRY301  # a traceback quoting the secret
            except ValueError:
                logger.exception("failed with %s", SECRET)
        (record,) = caplog.records
        assert SECRET not in record.getMessage()
        assert SECRET not in caplog.text
        assert REDACTED in caplog.text

    def test_filter_passes_records_when_nothing_is_registered(self):
        """Without secrets a record is left as it is."""
        record = logging.LogRecord("twpolicy", logging.INFO, "f", 1, "%s", ("x",), None)
        assert RedactSecrets(SecretRegistry()).filter(record)
        assert ("%s", ("x",)) == (record.msg, record.args)

    def test_malformed_record_is_passed_on(self):
        """A record whose arguments do not fit its message is left to logging to report."""
        registry = SecretRegistry()
        registry.register([SECRET])
        record = logging.LogRecord("twpolicy", logging.INFO, "f", 1, "%d", ("x",), None)
        assert RedactSecrets(registry).filter(record)

    def test_stack_info_is_redacted(self):
        """Stack information quoting a secret is redacted too."""
        registry = SecretRegistry()
        registry.register([SECRET])
        record = logging.LogRecord("twpolicy", logging.INFO, "f", 1, "m", None, None, sinfo=SECRET)
        RedactSecrets(registry).filter(record)
        assert REDACTED == record.stack_info


_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_%"  # noqa: S105  # an alphabet
secrets_strategy = st.text(alphabet=_TOKEN_CHARS, min_size=24, max_size=64)


class TestNoSecretLeaks:
    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        consumer_secret=secrets_strategy,
        token_secret=secrets_strategy,
        bearer=secrets_strategy,
    )
    def test_no_secret_in_decisions_logs_errors_or_reprs(
        self, caplog, consumer_secret, token_secret, bearer
    ):
        """Whatever the secrets, none appears in a decision, log record, error or repr."""
        process_secrets().clear()
        caplog.clear()
        secrets = (consumer_secret, token_secret, bearer)
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])
        fake = FakeXAPI()
        client = fake.install(
            twpolicy.Client(
                bearer_token=bearer,
                consumer_key="key",
                consumer_secret=consumer_secret,
                access_token=fake.access_token(),
                access_token_secret=token_secret,
                guard=guard,
            )
        )
        api = twpolicy.API(
            tweepy.OAuth1UserHandler("key", consumer_secret, fake.access_token(), token_secret),
            guard=guard,
        )
        messages = [repr(client), repr(api), repr(guard), repr(guard.secrets)]
        attempts = [
            lambda: client.create_tweet(text=f"my secret is {token_secret}", user_auth=True),
            lambda: twpolicy.check_storable({"k": consumer_secret}, guard=guard),
            lambda: twpolicy.check_storable({bearer: POINT}, guard=guard),
            lambda: twpolicy.check_storable(
                {"a": [f"x{token_secret}"], "password": "p"}, guard=guard
            ),
            lambda: twpolicy.GeoSafeMapping({}, guard=guard).__setitem__(bearer, POINT),
        ]
        with caplog.at_level(logging.DEBUG, logger="twpolicy"):
            for attempt in attempts:
                with pytest.raises(twpolicy.PolicyViolation) as caught:
                    attempt()
                messages.append(str(caught.value))
                messages.append(caught.value.decision.explain())
        messages.extend(json.dumps(d.to_record()) for d in recorder.decisions)
        messages.extend(repr(d) for d in recorder.decisions)
        messages.append(caplog.text)
        messages.extend(r.getMessage() for r in caplog.records)
        assert 5 <= len(recorder.denied)
        for secret in secrets:
            assert not [m for m in messages if secret in m]


@attrs.frozen
class Quoting:
    """A rule that allows, quoting ``text`` in a shared outcome (as rules repeat allows)."""

    text: str
    id = "test.quoting"
    clause = "I.A.1"
    error = twpolicy.CredentialError

    def evaluate(self, action, context):
        return twpolicy.Outcome.allow("quoted", facts={"quote": self.text})


class TestRememberedCleanOutcomes:
    """The guard remembers outcomes found clean; a secret registered later still never shows."""

    TEXTS = (SECRET, OTHER_SECRET, f"{SECRET} and {OTHER_SECRET}")

    @settings(max_examples=60, deadline=None)
    @example(  # found clean while another secret stood, then its own secret registered
        steps=[
            ("register", OTHER_SECRET),
            ("check", SECRET),
            ("register", SECRET),
            ("check", SECRET),
        ]
    )
    @given(
        steps=st.lists(
            st.one_of(
                st.tuples(st.just("register"), st.sampled_from((SECRET, OTHER_SECRET))),
                st.tuples(st.just("clear"), st.none()),
                st.tuples(st.just("check"), st.sampled_from(TEXTS)),
            ),
            max_size=12,
        )
    )
    def test_no_registered_secret_in_any_decision(self, steps):
        """Whatever the order of registering, clearing and deciding, no secret registered
        at the time of a decision appears in it, and nothing unregistered is cut out."""
        registry = process_secrets()
        registry.clear()
        guards = {text: twpolicy.Guard(rules=[Quoting(text)]) for text in self.TEXTS}
        registered: set[str] = set()
        try:
            for step, value in steps:
                if step == "register":
                    registry.register([value])
                    registered.add(value)
                elif step == "clear":
                    registry.clear()
                    registered.clear()
                else:
                    record = json.dumps(
                        guards[value]
                        .check(
                            twpolicy.Action(
                                kind="api_call", operation="GET /2/users/me", category="public_read"
                            )
                        )
                        .to_record()
                    )
                    for secret in (SECRET, OTHER_SECRET):
                        assert (secret in record) == (secret in value and secret not in registered)
        finally:
            registry.clear()
