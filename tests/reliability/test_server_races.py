"""Server under load and hostile input.

Races on names, in both dialects (v1 and 2.x). Twenty clients, each on its own TCP connection
opened beforehand, are released together by a barrier, round after round
(DBCS_RELIABILITY_RACE_ROUNDS, default 20): creates of one name, renames of twenty connections to
one name, clones of one connection, and one name created by twenty different keys. What is
checked is the end state read back from the server, not only the status codes: one winner, with
exactly the winner's content.
"""

import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from server_helpers import Api, ServerProcess, connection_spec, items

ROUNDS = int(os.environ.get("DBCS_RELIABILITY_RACE_ROUNDS", "20"))
RACERS = 20


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def server(request, tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("races"), key_count=4 + RACERS * ROUNDS, api_version=request.param,
                         args=["--strict-configs"] if request.param == 1 else [])
    proc.start()
    yield proc
    proc.stop()


def dialect(server: ServerProcess) -> str:
    return "2.x" if server.api_version == 2 else "v1"


def taken(server: ServerProcess, name: str) -> dict:
    """The answer to a create or rename that lost the race, in the server's dialect."""
    return {"error": f"a connection named '{name}' already exists", **({"code": "CONFLICT"} if server.api_version == 2 else {})}


def record(server: ServerProcess, spec: dict, answer: dict) -> dict:
    """What GET answers for a connection written as `spec` (v1 flat fields) whose write answered `answer`."""
    return {**server.wire(spec), "id": answer["id"], "created": answer["created"]}


def racers(server: ServerProcess, key: str | None = None) -> list[Api]:
    """RACERS clients of one key (or each of its own key), each with its connection already open."""
    return [server.api(key or server.take_key()) for _i in range(RACERS)]


def race(calls: list[Callable[[], requests.Response]]) -> tuple[list[requests.Response], float]:
    """Run the calls at once (a barrier releases them together); the answers in call order, and the seconds."""
    barrier = threading.Barrier(len(calls) + 1)
    answers: list[requests.Response | BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = calls[index]()
        except requests.RequestException as exc:
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    failed = [a for a in answers if not isinstance(a, requests.Response)]
    assert not failed, f"requests without an answer: {failed}"
    return answers, elapsed  # type: ignore[return-value]


def stored(client: Api) -> list[dict]:
    response = client.get("/connections")
    assert response.status_code == 200, response.text
    return items(response.json())


def without_server_fields(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("id", "created")}


def timing(seconds: list[float]) -> str:
    return f"a round took {statistics.median(seconds) * 1000:.0f} ms median, {max(seconds) * 1000:.0f} ms max"


def per_round(winners: Counter) -> str:
    return ", ".join(f"{rounds} rounds with {n} winner{'s' if n != 1 else ''}" for n, rounds in sorted(winners.items()))


def test_twenty_concurrent_creates_of_one_name_have_one_winner(server, report):
    clients = racers(server, server.take_key())
    statuses: Counter = Counter()
    seconds = []
    problems = []
    winners_per_round = Counter()
    for round_ in range(ROUNDS):
        name = f"race-{round_}"
        specs = [connection_spec(name, host=f"db-{i}.example", port=1000 + i) for i in range(RACERS)]
        answers, elapsed = race([lambda c=c, s=s: c.post("/connections", json=server.wire(s))
                                 for c, s in zip(clients, specs)])
        seconds.append(elapsed)
        statuses.update(a.status_code for a in answers)
        winners = [i for i, a in enumerate(answers) if a.status_code == 201]
        winners_per_round[len(winners)] += 1
        losers = [a for a in answers if a.status_code != 201]
        if len(winners) != 1:
            problems.append(f"round {round_}: {len(winners)} winners")
        if any(a.status_code != 409 or a.json() != taken(server, name) for a in losers):
            problems.append(f"round {round_}: losers answered {[(a.status_code, a.text[:100]) for a in losers]}")
        named = [c for c in stored(clients[0]) if c["name"] == name]
        if len(winners) == 1:
            winner = answers[winners[0]].json()
            if named != [record(server, specs[winners[0]], winner)]:
                problems.append(f"round {round_}: the stored connections of that name are not the winner's: {named}")
    everything = stored(clients[0])
    report.row(
        f"20 concurrent creates of one name (one key), API {dialect(server)}",
        f"{ROUNDS} rounds x {RACERS} POST /connections released together, each with its own content",
        f"{statuses[201]} created ({per_round(winners_per_round)}), {statuses[409]} answered 409 {{\"error\"}},"
        f" {sum(n for s, n in statuses.items() if s >= 500)} 5xx; each round ends with one connection of that"
        f" name holding exactly the winner's content: {'no' if problems else 'yes'}; {len(everything)} connections"
        f" in all; {timing(seconds)}",
    )
    assert not problems, "\n".join(problems[:20])
    assert sorted(c["name"] for c in everything) == sorted(f"race-{r}" for r in range(ROUNDS))


def test_twenty_concurrent_renames_to_one_name_have_one_winner(server, report):
    key = server.take_key()
    clients = racers(server, key)
    statuses: Counter = Counter()
    seconds = []
    problems = []
    winners_per_round = Counter()
    for round_ in range(ROUNDS):
        name = f"renamed-{round_}"
        originals = [clients[0].create(server.wire(connection_spec(f"r{round_}-{i}"))) for i in range(RACERS)]
        before = {c["id"]: c for c in stored(clients[0])}
        specs = [connection_spec(name, port=2000 + i) for i in range(RACERS)]
        answers, elapsed = race([
            lambda c=c, o=o, s=s: c.put(f"/connections/{o['id']}", json=server.wire(s))
            for c, o, s in zip(clients, originals, specs)
        ])
        seconds.append(elapsed)
        statuses.update(a.status_code for a in answers)
        winners = [i for i, a in enumerate(answers) if a.status_code == 200]
        winners_per_round[len(winners)] += 1
        if len(winners) != 1:
            problems.append(f"round {round_}: {len(winners)} winners")
        if not all(a.status_code == 409 and a.json() == taken(server, name) for a in answers if a.status_code != 200):
            problems.append(f"round {round_}: losers answered {[(a.status_code, a.text[:100]) for a in answers]}")
        after = {c["id"]: c for c in stored(clients[0])}
        if after.keys() != before.keys():
            problems.append(f"round {round_}: connections appeared or vanished: {after.keys() ^ before.keys()}")
        for i, original in enumerate(originals):
            expected = record(server, specs[i], original) if i in winners else before[original["id"]]
            if after.get(original["id"]) != expected:
                problems.append(f"round {round_}: {original['id']} holds {after.get(original['id'])}, not {expected}")
    report.row(
        f"20 concurrent renames (PUT) of 20 connections to one name, API {dialect(server)}",
        f"{ROUNDS} rounds x {RACERS} PUT /connections/{{id}} released together",
        f"{statuses[200]} renamed ({per_round(winners_per_round)}), {statuses[409]} answered 409 {{\"error\"}} and kept"
        f" every field as before: {'no' if problems else 'yes'}; {sum(n for s, n in statuses.items() if s >= 500)} 5xx;"
        f" {timing(seconds)}",
    )
    assert not problems, "\n".join(problems[:20])


def test_twenty_concurrent_clones_get_twenty_distinct_names(server, report):
    key = server.take_key()
    clients = racers(server, key)
    statuses: Counter = Counter()
    seconds = []
    problems = []
    for round_ in range(ROUNDS):
        source = clients[0].create(server.wire(connection_spec(f"src-{round_}")))
        answers, elapsed = race([lambda c=c: c.put(f"/connections/{source['id']}/clone") for c in clients])
        seconds.append(elapsed)
        statuses.update(a.status_code for a in answers)
        if [a.status_code for a in answers] != [200] * RACERS:
            problems.append(f"round {round_}: {[(a.status_code, a.text[:100]) for a in answers]}")
            continue
        expected = sorted([f"src-{round_}-copy"] + [f"src-{round_}-copy-{n}" for n in range(2, RACERS + 1)])
        if sorted(a.json()["name"] for a in answers) != expected:
            problems.append(f"round {round_}: answered names {sorted(a.json()['name'] for a in answers)}")
        original = clients[0].get(f"/connections/{source['id']}").json()
        copies = [c for c in stored(clients[0]) if c["name"].startswith(f"src-{round_}-copy")]
        if sorted(c["name"] for c in copies) != expected:
            problems.append(f"round {round_}: stored names {sorted(c['name'] for c in copies)}")
        if not all(without_server_fields(c) == {**without_server_fields(original), "name": c["name"]} for c in copies):
            problems.append(f"round {round_}: a copy differs from its original")
    report.row(
        f"20 concurrent clones of one connection, API {dialect(server)}",
        f"{ROUNDS} rounds x {RACERS} PUT /connections/{{id}}/clone released together",
        f"{statuses[200]} clones; every round named exactly <name>-copy, -copy-2 ... -copy-20 (no name twice),"
        f" each a full copy: {'no' if problems else 'yes'}; {sum(n for s, n in statuses.items() if s >= 500)} 5xx;"
        f" {timing(seconds)}",
    )
    assert not problems, "\n".join(problems[:20])


def test_one_name_created_by_twenty_keys_at_once_is_twenty_connections(server, report):
    rounds = max(1, ROUNDS // 2)
    created = 0
    seconds = []
    problems = []
    for round_ in range(rounds):
        clients = racers(server)
        name = f"shared-{round_}"
        specs = [connection_spec(name, port=3000 + i) for i in range(RACERS)]
        answers, elapsed = race([lambda c=c, s=s: c.post("/connections", json=server.wire(s))
                                 for c, s in zip(clients, specs)])
        seconds.append(elapsed)
        created += sum(a.status_code == 201 for a in answers)
        for client, spec, answer in zip(clients, specs, answers):
            if answer.status_code != 201:
                problems.append(f"round {round_}: {answer.status_code} {answer.text[:100]}")
            elif stored(client) != [record(server, spec, answer.json())]:
                problems.append(f"round {round_}: a key sees {stored(client)}")
    report.row(
        f"one name created by 20 keys at once (names are unique per key), API {dialect(server)}",
        f"{rounds} rounds x {RACERS} keys, POST /connections of the same name released together",
        f"{created} of {rounds * RACERS} created; each key sees exactly its own one connection with its own content:"
        f" {'no' if problems else 'yes'}; {timing(seconds)}",
    )
    assert not problems, "\n".join(problems[:20])
