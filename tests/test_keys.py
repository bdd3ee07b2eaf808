"""One key per use case: the key store and keys.use_case (I.F.5.a; multiple applications)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, ConfigurationError, KeyUseCaseError
from twpolicy.rules import default, one_key_per_use_case

READ = Action(kind="api_call", operation="GET /2/users/me", category="private_read")
KEY = "prod-consumer-key-0123456789"


@pytest.fixture(
    name="store",
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def _store(request, tmp_path):
    """A key store in memory, in a SQLite file, and in PostgreSQL."""
    if request.param == "postgresql":
        return twpolicy.open_keys(request.getfixturevalue("postgres_url"))
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'keys.db'}"
    return twpolicy.open_keys(url)


def guard(store, key=KEY, use_case="inbox", environment="production"):
    rule = one_key_per_use_case(store, key=key, use_case=use_case, environment=environment)
    return twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), rules=[*default(), rule])


class TestStore:
    def test_binding_is_idempotent(self, store):
        """Binding a key again to the same use case and environment changes nothing."""
        first = store.bind(KEY, use_case="inbox", environment="production")
        assert first == store.bind(KEY, use_case="inbox", environment="production")
        assert first == store.binding(KEY)
        assert [first] == store.bindings("inbox")

    def test_key_bound_to_another_use_case(self, store):
        """A key serves one use case: binding it to a second is refused, naming the first."""
        store.bind(KEY, use_case="inbox", environment="production")
        with pytest.raises(ConfigurationError, match="bound to use case 'inbox'"):
            store.bind(KEY, use_case="marketing", environment="production")
        with pytest.raises(ConfigurationError, match=r"I\.F\.5\.a"):
            store.bind(KEY, use_case="inbox", environment="staging")

    def test_second_production_key(self, store):
        """A use case has one production key; dev and staging keys may sit beside it."""
        store.bind(KEY, use_case="inbox", environment="production")
        store.bind("dev-key", use_case="inbox", environment="development")
        store.bind("staging-key", use_case="inbox", environment="staging")
        with pytest.raises(ConfigurationError, match="already has a production key"):
            store.bind("second-prod-key", use_case="inbox", environment="production")
        assert store.binding("second-prod-key") is None

    def test_unknown_environment(self, store):
        """Only development, staging and production are labels."""
        with pytest.raises(ConfigurationError, match="unknown environment 'qa'"):
            store.bind(KEY, use_case="inbox", environment="qa")

    def test_shared_between_processes(self, tmp_path):
        """Two stores on one file see each other's bindings: the refusal holds across hosts."""
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        twpolicy.open_keys(url).bind(KEY, use_case="inbox", environment="production")
        other = twpolicy.open_keys(url)
        with pytest.raises(ConfigurationError, match="already has a production key"):
            other.bind("another-key", use_case="inbox", environment="production")

    def test_the_key_is_never_stored(self, tmp_path):
        """Only a fingerprint of the key reaches the file (I.A.1)."""
        path = tmp_path / "keys.db"
        twpolicy.open_keys(f"sqlite:///{path}").bind(
            KEY, use_case="inbox", environment="production"
        )
        data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert KEY.encode() not in data
        assert twpolicy.key_fingerprint(KEY).encode() in data

    @given(st.text(min_size=1).filter(str.strip), st.text(min_size=1).filter(str.strip))
    def test_fingerprints_differ(self, a, b):
        """Different keys have different fingerprints; the same key always the same one."""
        assert (twpolicy.key_fingerprint(a) == twpolicy.key_fingerprint(b)) == (a == b)


class TestRule:
    def test_bound_key_is_allowed(self, store):
        """The production key of this use case passes, and the decision names its fingerprint."""
        store.bind(KEY, use_case="inbox", environment="production")
        decision = guard(store).check(READ)
        assert decision.allowed
        outcome = next(o for o in decision.outcomes if o.rule == "keys.use_case")
        assert twpolicy.key_fingerprint(KEY) == outcome.facts["key_id"]
        assert KEY not in str(decision.to_record())

    def test_unbound_key_is_refused_with_a_remedy_that_works(self, store):
        """An unbound key is refused; doing what the remedy says lets the call through."""
        g = guard(store)
        with pytest.raises(KeyUseCaseError) as info, g.permit(READ):
            pass
        decision = info.value.decision
        assert ("I.F.5.a", "key_not_bound") == (decision.clause, decision.reason)
        assert "use_case='inbox', environment='production'" in decision.remediation
        store.bind(KEY, use_case="inbox", environment="production")
        with g.permit(READ):
            pass

    def test_key_of_another_use_case(self, store):
        """A key bound to another use case is refused."""
        store.bind(KEY, use_case="marketing", environment="production")
        decision = guard(store).check(READ)
        assert "key_bound_to_another_use_case" == decision.reason
        assert "use_case = 'marketing'" in decision.remediation

    @pytest.mark.parametrize("label", ["development", "staging"])
    def test_nonproduction_key_in_production(self, store, label):
        """A development or staging key is refused in production."""
        store.bind(KEY, use_case="inbox", environment=label)
        decision = guard(store).check(READ)
        assert ("RU.multiple-applications.3", "nonproduction_key_in_production") == (
            decision.clause,
            decision.reason,
        )
        assert guard(store, environment=label).check(READ).allowed

    def test_environment_mismatch(self, store):
        """A production key run as staging is refused: labels must match."""
        store.bind(KEY, use_case="inbox", environment="production")
        assert "key_environment_mismatch" == guard(store, environment="staging").check(READ).reason


class TestConfig:
    def write(self, tmp_path, body):
        path = tmp_path / "twpolicy.toml"
        path.write_text("[twpolicy]\n" + body, encoding="utf-8")
        return path

    def test_use_case_binds_and_checks(self, tmp_path, monkeypatch):
        """use_case binds the environment's key when the guard is built and adds the rule."""
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        monkeypatch.setenv("X_KEY", KEY)
        path = self.write(
            tmp_path,
            f'use_case = "inbox"\nkey_store = "{url}"\nconsumer_key_env = "X_KEY"\n',
        )
        built = twpolicy.Guard.from_config(path)
        assert built.check(READ).allowed
        assert twpolicy.open_keys(url).binding(KEY).use_case == "inbox"
        monkeypatch.setenv("X_KEY", "another-production-key")
        with pytest.raises(ConfigurationError, match="already has a production key"):
            twpolicy.Guard.from_config(path)

    def test_no_key_in_the_environment(self, tmp_path, monkeypatch):
        """use_case without a key to bind stops the guard, naming the variable to set."""
        monkeypatch.delenv("TWPOLICY_CONSUMER_KEY", raising=False)
        with pytest.raises(ConfigurationError, match=r"\$TWPOLICY_CONSUMER_KEY"):
            twpolicy.Guard.from_config(self.write(tmp_path, 'use_case = "inbox"\n'))

    def test_bad_environment(self, tmp_path):
        """An unknown environment label is refused before anything is built."""
        path = self.write(tmp_path, 'use_case = "inbox"\nenvironment = "prod"\n')
        with pytest.raises(ConfigurationError, match="unknown environment 'prod'"):
            twpolicy.Guard.from_config(path)

    def test_remedy_names_the_store_in_python(self, tmp_path):
        """The unbound remedy is Python naming the call; no shell form, so no key is typed."""
        decision = guard(twpolicy.open_keys("memory://")).check(READ)
        assert "twpolicy.open_keys(URL).bind(KEY" in decision.remediation
