"""The keyring: sealing personal text per customer, destroying keys, and how long a key is cached."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID, uuid4

import pytest

from domain.application import CustomerRelations
from domain.errors import CustomerInactiveError
from domain.keyring import Keyring, MemoryKeyStore, SqlKeyStore
from domain.personal_data import FORGOTTEN, PersonalText
from service.settings import Settings


class CountingStore(MemoryKeyStore):
    """A memory store that counts look-ups, to see what the keyring caches."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def get(self, owner: UUID) -> bytes | None:
        self.lookups += 1
        return super().get(owner)


def test_sealed_text_opens_again_with_its_owners_key_and_hides_the_plain_text() -> None:
    keyring, owner = Keyring(), uuid4()

    sealed = keyring.seal(PersonalText(owner, "Dana lives on Elm Street"))

    assert b"Elm Street" not in sealed
    assert keyring.open(owner, sealed) == PersonalText(owner, "Dana lives on Elm Street")


def test_the_same_text_seals_differently_each_time() -> None:
    keyring, owner = Keyring(), uuid4()

    assert keyring.seal(PersonalText(owner, "same")) != keyring.seal(PersonalText(owner, "same"))


def test_each_owner_has_a_key_of_their_own() -> None:
    keyring, dana, fox = Keyring(), uuid4(), uuid4()
    keyring.seal(PersonalText(dana, "x"))
    keyring.seal(PersonalText(fox, "y"))

    assert keyring.store.get(dana) != keyring.store.get(fox)


def test_text_sealed_for_one_owner_cannot_be_opened_as_anothers() -> None:
    keyring, dana, fox = Keyring(), uuid4(), uuid4()
    keyring.seal(PersonalText(fox, "makes Fox's key"))
    sealed = keyring.seal(PersonalText(dana, "Dana's secret"))

    with pytest.raises(ValueError, match="does not match its key"):
        keyring.open(fox, sealed)


def test_after_the_key_is_destroyed_the_text_reads_as_forgotten() -> None:
    keyring, owner = Keyring(), uuid4()
    sealed = keyring.seal(PersonalText(owner, "Dana"))

    keyring.destroy([owner])

    assert keyring.open(owner, sealed) == PersonalText(owner, FORGOTTEN)


def test_nothing_new_is_sealed_for_a_destroyed_owner() -> None:
    keyring, owner = Keyring(), uuid4()
    keyring.seal(PersonalText(owner, "Dana"))
    keyring.destroy([owner])

    with pytest.raises(CustomerInactiveError, match="forgotten"):
        keyring.seal(PersonalText(owner, "Dana again"))
    assert keyring.store.get(owner) is None


def test_destroying_an_owner_without_a_key_still_refuses_one_later() -> None:
    keyring, owner = Keyring(), uuid4()

    keyring.destroy([owner])

    with pytest.raises(CustomerInactiveError):
        keyring.seal(PersonalText(owner, "never sealed before"))


def test_a_key_is_looked_up_once_within_a_unit_of_work_and_every_time_outside_one() -> None:
    store = CountingStore()
    keyring, owner = Keyring(store), uuid4()
    sealed = [keyring.seal(PersonalText(owner, f"text {n}")) for n in range(3)]
    store.lookups = 0

    with keyring.cached():
        for value in sealed:
            keyring.open(owner, value)
    inside = store.lookups
    for value in sealed:
        keyring.open(owner, value)

    assert (inside, store.lookups - inside) == (1, 3)


def test_a_key_destroyed_inside_a_unit_of_work_is_not_used_from_its_cache() -> None:
    keyring, owner = Keyring(), uuid4()
    sealed = keyring.seal(PersonalText(owner, "Dana"))

    with keyring.cached():
        assert keyring.open(owner, sealed).value == "Dana"
        keyring.destroy([owner])
        assert keyring.open(owner, sealed).value == FORGOTTEN


def test_a_destroyed_key_is_not_kept_by_another_processes_cache() -> None:
    """Two applications on one store stand for two processes: one forgets, the other reads."""
    store = MemoryKeyStore()
    reader, forgetter, owner = Keyring(store), Keyring(store), uuid4()
    sealed = reader.seal(PersonalText(owner, "Dana"))
    with reader.cached():
        reader.open(owner, sealed)

    forgetter.destroy([owner])

    assert reader.open(owner, sealed).value == FORGOTTEN


# ---- the key table on the real databases ----------------------------------------------------------


@pytest.fixture
def sql_keys(settings: Settings) -> Iterable[SqlKeyStore]:
    application = CustomerRelations(env=settings.persistence_env())
    store = application.keyring.store
    assert isinstance(store, SqlKeyStore)
    yield store
    application.close()


def test_the_key_table_keeps_the_first_key_of_an_owner(sql_keys: SqlKeyStore) -> None:
    owner = uuid4()

    first = sql_keys.add({owner: b"k" * 32})
    second = sql_keys.add({owner: b"x" * 32})

    assert first == second == {owner: b"k" * 32}
    assert sql_keys.get(owner) == b"k" * 32


def test_the_key_table_keeps_a_tombstone_that_refuses_new_keys(sql_keys: SqlKeyStore) -> None:
    owner, other = uuid4(), uuid4()
    sql_keys.add({owner: b"k" * 32, other: b"o" * 32})

    sql_keys.destroy([owner])

    assert sql_keys.get(owner) is None
    assert sql_keys.add({owner: b"n" * 32}) == {owner: None}
    assert sql_keys.get(other) == b"o" * 32  # only the named owner's key goes
