"""The read models over HTTP: lists, profile and happiness, advocates (JSON and CSV), KPIs, readiness,
read-your-writes with Conversa-Min-Position, and who may read what."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.actor import SYSTEM
from domain.application import CustomerRelations
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"
COMPLAINT = "My parcel arrived broken and nobody answers. Terrible service!"
QUESTION = "Where is my parcel?"
CSV_HEADER = ["customer_id", "name", "advocacy", "happiness", "channels", "marketing_consent", "reasons"]


def problem(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status, f"{response.request.full_path}: {response.get_data(as_text=True)}"
    assert response.content_type == PROBLEM
    assert response.json["type"] == f"urn:conversa:problem:{slug}"


def register(client: ApiClient, name: str, handle: str, channel: str = "twitter", **extra: Any) -> str:
    body = {"name": name, "identities": [{"channel": channel, "handle": handle}], **extra}
    response = client.post("/v1/customers", json=body)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def start(client: ApiClient, customer_id: str, text: str, channel: str = "twitter", at: datetime | None = None) -> str:
    message: dict[str, Any] = {"text": text}
    if at is not None:
        message["occurred_at"] = at.isoformat()
    body = {"customer_id": customer_id, "channel": channel, "message": message}
    response = client.post("/v1/conversations", json=body)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def cursor_of(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def items(response: Any, key: str = "id") -> list[Any]:
    assert response.status_code == 200, response.json
    return [row[key] for row in response.json["items"]]


def agent_id(application: CustomerRelations, client: ApiClient) -> str:
    return str(application.authenticate(client.token).id)


# ---- customers ----------------------------------------------------------------------------------


@pytest.fixture
def people(agent: ApiClient, project: Any) -> dict[str, str]:
    dana = register(agent, "Dana Scully", "@dana")
    fox = register(agent, "Fox Mulder", "@TrustNo1")
    walter = register(agent, "Walter Skinner", "walter@fbi.example", channel="email", email="walter@fbi.example")
    assert agent.post(f"/v1/customers/{dana}/tags", json={"tag": "vip"}).status_code == 200
    project()
    return {"dana": dana, "fox": fox, "walter": walter}


def test_the_customer_list_is_sorted_by_name(agent: ApiClient, people: dict[str, str]) -> None:
    response = agent.get("/v1/customers")
    assert items(response) == [people["dana"], people["fox"], people["walter"]]
    assert response.json["next_cursor"] is None
    first = response.json["items"][0]
    assert (first["name"], first["tags"], first["identities"]) == (
        "Dana Scully",
        ["vip"],
        [{"channel": "twitter", "handle": "@dana"}],
    )


def test_q_finds_customers_by_name_or_handle_in_any_case(agent: ApiClient, people: dict[str, str]) -> None:
    searches = {"SCULLY": ["dana"], "ull": ["dana"], "trustno1": ["fox"], "@TRUST": ["fox"], "nobody": []}
    names = {customer_id: name for name, customer_id in people.items()}
    found = {q: [names[row] for row in items(agent.get("/v1/customers", query_string={"q": q}))] for q in searches}
    assert found == searches


def test_the_tag_filter_keeps_the_tagged_customers(agent: ApiClient, people: dict[str, str]) -> None:
    assert items(agent.get("/v1/customers?tag=vip")) == [people["dana"]]
    assert items(agent.get("/v1/customers?tag=churned")) == []


def test_customer_pages_visit_every_customer_once(agent: ApiClient, people: dict[str, str]) -> None:
    first = agent.get("/v1/customers?limit=2")
    assert items(first) == [people["dana"], people["fox"]]
    cursor = first.json["next_cursor"]
    assert cursor is not None
    second = agent.get("/v1/customers", query_string={"limit": 2, "cursor": cursor})
    assert items(second) == [people["walter"]]
    assert second.json["next_cursor"] is None


def test_a_forged_customer_cursor_is_refused(agent: ApiClient) -> None:
    for cursor in ["not a cursor!", cursor_of([1, 2]), cursor_of({"name": "x"}), cursor_of(["a"]), cursor_of("a")]:
        problem(agent.get("/v1/customers", query_string={"cursor": cursor}), 422, "validation")


def test_the_profile_explains_happiness_and_advocacy(agent: ApiClient, project: Any) -> None:
    dana = register(agent, "Dana Scully", "@dana")
    assert agent.post(f"/v1/customers/{dana}/nps", json={"score": 7}).status_code == 201
    project()
    profile = agent.get(f"/v1/customers/{dana}/profile")
    assert profile.status_code == 200
    assert (profile.json["customer_id"], profile.json["name"], profile.json["latest_nps"]) == (dana, "Dana Scully", 7)
    components = {"sentiment": None, "csat": None, "nps": 70.0, "service": None}
    assert profile.json["happiness"] == {"score": 70, "band": "happy", "components": components}
    assert profile.json["advocacy"] == {
        "score": 10,
        "reasons": ["passive: latest NPS 7 (+10)"],
        "is_advocate": False,
    }
    happiness = agent.get(f"/v1/customers/{dana}/happiness")
    assert happiness.status_code == 200
    assert happiness.json == {"customer_id": dana, "score": 70, "band": "happy", "components": components}


def test_the_profile_and_happiness_of_an_unknown_customer_are_404(agent: ApiClient) -> None:
    unknown = uuid4()
    problem(agent.get(f"/v1/customers/{unknown}/profile"), 404, "not-found")
    problem(agent.get(f"/v1/customers/{unknown}/happiness"), 404, "not-found")


# ---- inbox and complaints -----------------------------------------------------------------------


def test_the_inbox_filters_over_http(agent: ApiClient, project: Any, application: CustomerRelations) -> None:
    dana = register(agent, "Dana Scully", "@dana")
    fox = register(agent, "Fox Mulder", "fox@example.org", channel="email")
    now = datetime.now(UTC)
    complaint = start(agent, dana, COMPLAINT, at=now - timedelta(hours=3))
    question = start(agent, fox, QUESTION, channel="email", at=now - timedelta(hours=2))
    replied = agent.post(f"/v1/conversations/{question}/replies", json={"text": "On its way. Ann"})
    assert replied.status_code == 201
    me = agent_id(application, agent)
    assert agent.put(f"/v1/conversations/{complaint}/assignee", json={"agent_id": me}).status_code == 200
    project()

    assert items(agent.get("/v1/conversations")) == [question, complaint]
    assert items(agent.get("/v1/conversations?status=open")) == [complaint]
    assert items(agent.get("/v1/conversations?status=pending")) == [question]
    assert items(agent.get(f"/v1/conversations?assignee={me}")) == [complaint]
    assert items(agent.get("/v1/conversations?channel=email")) == [question]
    assert items(agent.get("/v1/conversations?kind=complaint")) == [complaint]
    assert items(agent.get("/v1/conversations?priority=high")) == [complaint]
    assert items(agent.get(f"/v1/conversations?customer_id={fox}")) == [question]
    assert items(agent.get("/v1/conversations?kind=complaint&status=pending")) == []
    row = agent.get("/v1/conversations?kind=complaint").json["items"][0]
    assert (row["customer_name"], row["assignee"]["name"], row["first_response_breached"]) == (
        "Dana Scully",
        "Ann Agent",
        True,
    )
    paged = agent.get("/v1/conversations?limit=1")
    rest = agent.get("/v1/conversations", query_string={"limit": 1, "cursor": paged.json["next_cursor"]})
    assert items(paged) + items(rest) == [question, complaint]
    assert rest.json["next_cursor"] is None


BAD_INBOX_QUERIES = [
    "status=closed",
    "kind=rant",
    "priority=critical",
    "assignee=ann",
    "customer_id=42",
    "channel=Not%20A%20Channel",
    "limit=0",
    "cursor=xyz",
]


def test_a_bad_inbox_filter_is_a_422(agent: ApiClient) -> None:
    for query in BAD_INBOX_QUERIES:
        problem(agent.get(f"/v1/conversations?{query}"), 422, "validation")


def test_unresolved_complaints_over_http(agent: ApiClient, project: Any, application: CustomerRelations) -> None:
    dana = register(agent, "Dana Scully", "@dana")
    now = datetime.now(UTC)
    overdue = start(agent, dana, COMPLAINT, at=now - timedelta(hours=2))  # reply was due an hour ago
    fresh = start(agent, dana, COMPLAINT, at=now)  # reply due in an hour
    start(agent, dana, QUESTION, at=now - timedelta(hours=5))  # not a complaint
    me = agent_id(application, agent)
    assert agent.put(f"/v1/conversations/{fresh}/assignee", json={"agent_id": me}).status_code == 200
    project()

    listed = agent.get("/v1/complaints/unresolved")
    assert items(listed, "conversation_id") == [overdue, fresh]
    assert [row["breached"] for row in listed.json["items"]] == [True, False]
    assert items(agent.get("/v1/complaints/unresolved?breached=true"), "conversation_id") == [overdue]
    assert items(agent.get("/v1/complaints/unresolved?breached=false"), "conversation_id") == [fresh]
    assert items(agent.get(f"/v1/complaints/unresolved?assignee={me}"), "conversation_id") == [fresh]

    assert agent.post(f"/v1/conversations/{overdue}/resolve").status_code == 200
    project()
    assert items(agent.get("/v1/complaints/unresolved"), "conversation_id") == [fresh]
    problem(agent.get("/v1/complaints/unresolved?breached=maybe"), 422, "validation")


# ---- advocates ----------------------------------------------------------------------------------


@pytest.fixture
def advocates(agent: ApiClient, application: CustomerRelations, project: Any) -> dict[str, str]:
    """Ada (50, consenting, twitter), Ben (55, no consent, email), Cy (45: no advocate, consenting)."""

    def customer(name: str, handle: str, channel: str, answers: int, consent: bool) -> str:
        customer_id = register(agent, name, handle, channel=channel)
        if consent:
            given = agent.put(f"/v1/customers/{customer_id}/consent", json={"given": True, "source": "web form"})
            assert given.status_code == 200
        application.give_nps(UUID(customer_id), 10, None)
        for n in range(answers):
            application.submit_contribution(UUID(customer_id), "answer", f"answer {n}", "body", None, None, SYSTEM)
        return customer_id

    made = {
        "ada": customer("Ada", "@ada", "twitter", 2, True),
        "ben": customer("Ben", "ben@example.org", "email", 3, False),
        "cy": customer("Cy", "@cy", "twitter", 1, True),
    }
    project()
    return made


def test_advocates_are_ranked_by_advocacy_for_an_admin(admin: ApiClient, advocates: dict[str, str]) -> None:
    response = admin.get("/v1/advocates")
    assert response.content_type == "application/json"
    assert items(response, "customer_id") == [advocates["ben"], advocates["ada"]]
    ben = response.json["items"][0]
    assert (ben["advocacy"], ben["happiness"], ben["channels"], ben["marketing_consent"]) == (55, 100, ["email"], False)
    assert ben["reasons"] == [
        "promoter: latest NPS 10 (+40)",
        "contributions: answer given, answer given, answer given (+15)",
    ]
    assert items(admin.get("/v1/advocates?min_score=51"), "customer_id") == [advocates["ben"]]
    assert items(admin.get("/v1/advocates?channel=twitter"), "customer_id") == [advocates["ada"]]
    first = admin.get("/v1/advocates?limit=1")
    rest = admin.get("/v1/advocates", query_string={"limit": 1, "cursor": first.json["next_cursor"]})
    assert items(first, "customer_id") + items(rest, "customer_id") == [advocates["ben"], advocates["ada"]]


def test_marketing_sees_only_advocates_who_gave_consent(as_role: Any, advocates: dict[str, str]) -> None:
    marketing = as_role("marketing")
    assert items(marketing.get("/v1/advocates"), "customer_id") == [advocates["ada"]]


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="advocates.csv"'
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_advocates_csv_has_a_header_and_a_row_per_consenting_advocate(
    admin: ApiClient, advocates: dict[str, str]
) -> None:
    by_accept = read_csv(admin.get("/v1/advocates", headers={"Accept": "text/csv"}))
    by_format = read_csv(admin.get("/v1/advocates?format=csv"))
    assert by_accept == by_format
    assert by_accept == [
        CSV_HEADER,
        [
            advocates["ada"],
            "Ada",
            "50",
            "100",
            "twitter",
            "True",
            "promoter: latest NPS 10 (+40) | contributions: answer given, answer given (+10)",
        ],
    ]
    assert read_csv(admin.get("/v1/advocates?format=csv&min_score=51")) == [CSV_HEADER]


def test_format_json_wins_over_an_accept_header_asking_for_csv(admin: ApiClient, advocates: dict[str, str]) -> None:
    response = admin.get("/v1/advocates?format=json", headers={"Accept": "text/csv"})
    assert response.content_type == "application/json"
    assert len(items(response, "customer_id")) == 2


def test_a_name_that_looks_like_a_formula_is_exported_inert(
    agent: ApiClient, admin: ApiClient, application: CustomerRelations, project: Any
) -> None:
    eve = register(agent, '=HYPERLINK("http://x")', "@eve")
    assert agent.put(f"/v1/customers/{eve}/consent", json={"given": True, "source": "web"}).status_code == 200
    application.give_nps(UUID(eve), 10, None)
    for n in range(2):
        application.submit_contribution(UUID(eve), "answer", f"a{n}", "body", None, None, SYSTEM)
    project()
    rows = read_csv(admin.get("/v1/advocates?format=csv"))
    assert rows[1][1] == '\'=HYPERLINK("http://x")'


# ---- contributions board ------------------------------------------------------------------------


def test_the_board_sorts_top_or_new_and_a_cursor_keeps_to_its_sort(agent: ApiClient, project: Any) -> None:
    kim = register(agent, "Kim", "@kim")
    fans = [register(agent, name, f"@{name.lower()}") for name in ("Lou", "Max")]

    def submit(kind: str, hours: int, **extra: Any) -> str:
        body = {
            "customer_id": kim,
            "kind": kind,
            "title": kind,
            "body": "text",
            "occurred_at": f"2026-03-02T{9 + hours:02d}:00:00+00:00",
            **extra,
        }
        response = agent.post("/v1/contributions", json=body)
        assert response.status_code == 201, response.json
        return str(response.json["id"])

    idea, review, answer = submit("idea", 0), submit("review", 1, rating=5), submit("answer", 2)
    for fan in fans:
        assert agent.post(f"/v1/contributions/{idea}/endorsements", json={"customer_id": fan}).status_code == 201
    assert agent.post(f"/v1/contributions/{answer}/endorsements", json={"customer_id": fans[0]}).status_code == 201
    project()

    assert items(agent.get("/v1/contributions?sort=top")) == [idea, answer, review]
    assert items(agent.get("/v1/contributions")) == [idea, answer, review]  # top is the default
    assert items(agent.get("/v1/contributions?sort=new")) == [answer, review, idea]
    assert items(agent.get("/v1/contributions?kind=review")) == [review]
    assert items(agent.get("/v1/contributions?status=submitted&sort=new")) == [answer, review, idea]

    top = agent.get("/v1/contributions?sort=top&limit=2")
    new = agent.get("/v1/contributions?sort=new&limit=2")
    top_rest = agent.get(
        "/v1/contributions", query_string={"sort": "top", "limit": 2, "cursor": top.json["next_cursor"]}
    )
    new_rest = agent.get(
        "/v1/contributions", query_string={"sort": "new", "limit": 2, "cursor": new.json["next_cursor"]}
    )
    assert items(top) + items(top_rest) == [idea, answer, review]
    assert items(new) + items(new_rest) == [answer, review, idea]
    swapped = agent.get("/v1/contributions", query_string={"sort": "top", "cursor": new.json["next_cursor"]})
    problem(swapped, 422, "validation")
    swapped_back = agent.get("/v1/contributions", query_string={"sort": "new", "cursor": top.json["next_cursor"]})
    problem(swapped_back, 422, "validation")


# ---- KPIs ---------------------------------------------------------------------------------------


def test_kpis_cover_each_day_of_the_range_asked(agent: ApiClient, project: Any) -> None:
    dana = register(agent, "Dana Scully", "@dana")
    start(agent, dana, QUESTION, at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    nps = agent.post(f"/v1/customers/{dana}/nps", json={"score": 10, "occurred_at": "2026-03-03T08:00:00+00:00"})
    assert nps.status_code == 201
    project()
    response = agent.get("/v1/kpis?from=2026-03-01&to=2026-03-03")
    assert response.status_code == 200
    assert [day["date"] for day in response.json["series"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [day["inbound_volume"] for day in response.json["series"]] == [0, 1, 0]
    assert [day["nps"] for day in response.json["series"]] == [None, None, 100.0]
    total = response.json["total"]
    assert (total["from"], total["to"], total["inbound_volume"], total["nps_responses"]) == (
        "2026-03-01",
        "2026-03-03",
        1,
        1,
    )


def test_a_kpi_range_may_span_366_days(agent: ApiClient) -> None:
    response = agent.get("/v1/kpis?from=2024-01-01&to=2024-12-31")
    assert response.status_code == 200
    assert len(response.json["series"]) == 366


BAD_KPI_QUERIES = [
    "from=2026-03-05&to=2026-03-01",  # from after to
    "from=2024-01-01&to=2025-01-01",  # 367 days
    "from=yesterday",
    "interval=week",
]


def test_a_bad_kpi_range_is_a_422(agent: ApiClient) -> None:
    for query in BAD_KPI_QUERIES:
        problem(agent.get(f"/v1/kpis?{query}"), 422, "validation")


# ---- readiness and read-your-writes -------------------------------------------------------------


def test_readiness_needs_no_token_and_reports_the_lag_of_the_views(
    client: FlaskClient, agent: ApiClient, application: CustomerRelations, project: Any
) -> None:
    register(agent, "Dana Scully", "@dana")
    behind = client.get("/readyz")
    assert behind.status_code == 200
    head = application.head_position
    assert behind.json["head"] == head
    assert behind.json["lag"] == head - behind.json["views"]["views"]["position"]
    assert behind.json["lag"] > 0
    project()
    caught_up = client.get("/readyz")
    assert caught_up.json == {"status": "ready", "head": head, "views": {"views": {"position": head}}, "lag": 0}


def test_a_read_with_the_position_of_a_write_sees_the_write(agent: ApiClient, app: Flask) -> None:
    stop = threading.Event()
    follower = threading.Thread(target=app.extensions["conversa"].projector().follow, args=(stop,))
    follower.start()
    try:
        written = agent.post(
            "/v1/customers", json={"name": "Dana Scully", "identities": [{"channel": "twitter", "handle": "@dana"}]}
        )
        position = written.headers["Conversa-Position"]
        listed = agent.get("/v1/customers?q=dana", headers={"Conversa-Min-Position": position})
        assert items(listed) == [written.json["id"]]

        nps = agent.post(f"/v1/customers/{written.json['id']}/nps", json={"score": 9})
        profile = agent.get(
            f"/v1/customers/{written.json['id']}/profile",
            query_string={"min_position": nps.headers["Conversa-Position"]},
        )
        assert profile.status_code == 200
        assert profile.json["latest_nps"] == 9
    finally:
        stop.set()
        follower.join(timeout=30)
    assert not follower.is_alive()


def test_a_position_the_views_never_reach_gives_503_with_retry_after(
    agent: ApiClient, application: CustomerRelations
) -> None:
    # No projector runs: this waits the full five seconds once.
    response = agent.get("/v1/advocates", headers={"Conversa-Min-Position": str(application.head_position)})
    problem(response, 503, "views-behind")
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("how", ["header", "parameter"])
def test_a_position_past_the_end_of_the_event_log_is_a_422_at_once(
    agent: ApiClient, application: CustomerRelations, how: str
) -> None:
    # Found by the contract fuzzer: min_position=576460752303423487 waited 5 s, then answered 503.
    ahead = application.head_position + 1
    started = time.monotonic()
    if how == "header":
        response = agent.get("/v1/advocates", headers={"Conversa-Min-Position": str(ahead)})
    else:
        response = agent.get(f"/v1/advocates?min_position={ahead}")
    problem(response, 422, "unknown-position")
    assert time.monotonic() - started < 1


def test_a_min_position_header_that_is_no_whole_number_is_a_400(agent: ApiClient) -> None:
    for value in ["abc", "-1", "1.5", ""]:
        problem(agent.get("/v1/advocates", headers={"Conversa-Min-Position": value}), 400, "bad-header")


def test_a_min_position_header_with_a_superscript_digit_is_a_400(agent: ApiClient) -> None:
    problem(agent.get("/v1/advocates", headers={"Conversa-Min-Position": "\u00b2"}), 400, "bad-header")


def test_a_negative_min_position_parameter_is_a_422(agent: ApiClient) -> None:
    problem(agent.get("/v1/advocates?min_position=-1"), 422, "validation")


# ---- who may read what --------------------------------------------------------------------------

MARKETING_READS = ["/v1/advocates", "/v1/kpis", "/v1/customers", "/v1/contributions"]
SUPPORT_READS = ["/v1/conversations", "/v1/complaints/unresolved"]


def test_marketing_reads_advocates_kpis_customers_and_contributions_but_not_support_queues(
    as_role: Any, agent: ApiClient, project: Any
) -> None:
    dana = register(agent, "Dana Scully", "@dana")
    project()
    marketing = as_role("marketing")
    statuses = {url: marketing.get(url).status_code for url in [*MARKETING_READS, *SUPPORT_READS]}
    statuses[f"/v1/customers/{dana}/profile"] = marketing.get(f"/v1/customers/{dana}/profile").status_code
    assert statuses == {
        "/v1/advocates": 200,
        "/v1/kpis": 200,
        "/v1/customers": 200,
        "/v1/contributions": 200,
        "/v1/conversations": 403,
        "/v1/complaints/unresolved": 403,
        f"/v1/customers/{dana}/profile": 200,
    }
    problem(marketing.get("/v1/conversations"), 403, "forbidden")


def test_an_integration_reads_none_of_the_views(as_role: Any) -> None:
    integration = as_role("integration")
    for url in [*MARKETING_READS, *SUPPORT_READS]:
        problem(integration.get(url), 403, "forbidden")


def test_the_views_need_a_token(client: FlaskClient) -> None:
    for url in [*MARKETING_READS, *SUPPORT_READS]:
        problem(client.get(url), 401, "unauthenticated")
