"""The kit's Oracle Fusion pieces on their own: describe -> JSON Schema and keys, flatten rules, child rows with
their ancestors' keys, ``fields``/``q`` text in both framework syntaxes, keyset boundaries, stream plans."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.http import classify
from xlr8_kit.http.classify import ResponseClassifier
from xlr8_kit.oracle import Flatten, ResourceDeclaration, child_rows, fields_param, parse_describe, plan_streams
from xlr8_kit.oracle.describe import DescribeError
from xlr8_kit.oracle.protocol import (
    UNPARSABLE,
    FusionClassifier,
    HasMorePaginator,
    Keyset,
    body,
    collection_page,
    join_q,
    keyset_q,
    since_q,
)
from xlr8_kit.query import And, Compare, In, Or
from xlr8_kit.query.dialects import OracleREST, OracleRESTSimple
from xlr8_kit.testing.probes import spy_body_reads
from xlr8_kit.vocabulary import mapping_for_stream

DESCRIBE = {
    "Resources": {
        "workers": {
            "attributes": [
                {"name": "PersonId", "type": "integer", "queryable": True},
                {"name": "PersonNumber", "type": "string"},
                {"name": "LastUpdateDate", "type": "datetime"},
                {"name": "Flex_c", "type": "someNewType"},
            ],
            "collection": {"finders": [{"name": "PrimaryKey", "attributes": [{"name": "PersonId"}]}]},
            "children": {
                "emails": {
                    "attributes": [{"name": "EmailAddressId", "type": "integer"}, {"name": "EmailType"},
                                   {"name": "EmailAddress"}],
                    "collection": {"finders": [{"name": "PrimaryKey", "attributes": [{"name": "EmailAddressId"}]}]},
                },
                "workRelationships": {
                    "attributes": [{"name": "PeriodOfServiceId", "type": "integer"}, {"name": "PrimaryFlag",
                                   "type": "boolean"}],
                    "collection": {"finders": [{"name": "PrimaryKey", "attributes": [{"name": "PeriodOfServiceId"}]}]},
                    "children": {
                        "assignments": {
                            "attributes": [{"name": "AssignmentId", "type": "integer"}, {"name": "JobCode"},
                                           {"name": "EffectiveStartDate", "type": "date"},
                                           {"name": "EffectiveEndDate", "type": "date"},
                                           {"name": "PrimaryFlag", "type": "boolean"}],
                            "collection": {"finders": [{"name": "PrimaryKey",
                                                        "attributes": [{"name": "AssignmentId"}]}]},
                        }
                    },
                },
            },
        }
    }
}  # fmt: skip


def test_describe_to_schema_keys_and_children() -> None:
    workers = parse_describe(DESCRIBE, "workers")
    assert workers.keys == ("PersonId",)
    schema = workers.jsonschema()["properties"]
    assert schema["PersonId"] == {"type": ["integer", "null"]}
    assert schema["LastUpdateDate"] == {"type": ["string", "null"], "format": "date-time"}
    assert schema["Flex_c"] == {"type": ["string", "null"]}  # an unknown type is kept, as text
    assert workers.child("workRelationships.assignments").effective_dated
    embedded = workers.jsonschema(embed=("workRelationships", "workRelationships.assignments"))["properties"]
    relation = embedded["workRelationships"]["items"]["properties"]
    assert relation["assignments"]["items"]["properties"]["EffectiveStartDate"]["format"] == "date"
    with pytest.raises(DescribeError, match="no child 'nope'"):
        workers.child("nope")
    with pytest.raises(DescribeError, match="does not describe it"):
        parse_describe(DESCRIBE, "jobs")


def test_plans_flatten_columns_and_child_streams_with_ancestor_keys() -> None:
    workers = parse_describe(DESCRIBE, "workers")
    declaration = ResourceDeclaration(
        "employee",
        children=("emails", "workRelationships.assignments"),
        flatten=(Flatten("emails", {"EmailAddress": "WorkEmail"}, {"EmailType": "W1"}),),
    )
    parent, emails, assignments = plan_streams(workers, declaration, "streams")
    assert parent.replication_key == "LastUpdateDate"
    assert parent.schema["properties"]["WorkEmail"] == {"type": ["string", "null"]}
    assert parent.fields["emails"] == ["EmailAddress", "EmailType"]
    assert emails.name == "workers_emails"
    assert emails.primary_keys == ("PersonId", "EmailAddressId")
    assert assignments.primary_keys == ("PersonId", "PeriodOfServiceId", "AssignmentId", "EffectiveStartDate")
    assert assignments.fields == {"": ["PersonId"], "workRelationships": ["PeriodOfServiceId"],
                                  "workRelationships.assignments": None}  # fmt: skip
    bad = ResourceDeclaration(flatten=(Flatten("emails", {"Nope": "X"}),))
    with pytest.raises(DescribeError, match=r"emails\.Nope"):
        plan_streams(workers, bad, "streams")


def test_flatten_picks_the_matching_row_at_every_level() -> None:
    row = {
        "PersonId": 1,
        "emails": [{"EmailType": "H1", "EmailAddress": "home@x"}, {"EmailType": "W1", "EmailAddress": "work@x"}],
        "workRelationships": [
            {"PrimaryFlag": False, "assignments": [{"JobCode": "J9", "PrimaryFlag": True}]},
            {"PrimaryFlag": True, "assignments": [{"JobCode": "J1", "PrimaryFlag": False},
                                                  {"JobCode": "J2", "PrimaryFlag": True}]},
        ],
    }  # fmt: skip
    Flatten("emails", {"EmailAddress": "WorkEmail"}, {"EmailType": "W1"}).apply(row)
    Flatten("workRelationships.assignments", {"JobCode": "JobCode"}, {"PrimaryFlag": True}).apply(row)
    Flatten("names", {"FirstName": "FirstName"}).apply(row)  # not expanded / empty: None, not an error
    assert (row["WorkEmail"], row["JobCode"], row["FirstName"]) == ("work@x", "J2", None)


def test_child_rows_carry_every_ancestor_key() -> None:
    row = {
        "PersonId": 7,
        "workRelationships": [{"PeriodOfServiceId": 70, "assignments": [{"AssignmentId": 700}, {"AssignmentId": 701}]}],
    }
    keys = {"PersonId": "PersonId", "workRelationships.PeriodOfServiceId": "PeriodOfServiceId"}
    assert list(child_rows(row, "workRelationships.assignments", keys)) == [
        {"AssignmentId": 700, "PersonId": 7, "PeriodOfServiceId": 70},
        {"AssignmentId": 701, "PersonId": 7, "PeriodOfServiceId": 70},
    ]  # fmt: skip


def test_query_text_in_both_syntaxes() -> None:
    moment = datetime(2024, 5, 1, 8, 30, 15, 123, tzinfo=UTC)
    assert since_q("LastUpdateDate", moment, "4") == "LastUpdateDate >= '2024-05-01T08:30:15+00:00'"
    assert since_q("LastUpdateDate", moment, "1") == "LastUpdateDate>='2024-05-01T08:30:15+00:00'"
    stamped = datetime(2024, 5, 1, 8, 30, 15, 607_900, tzinfo=UTC)  # Fusion's milliseconds kept (audit25a F5)
    assert since_q("LastUpdateDate", stamped, "4") == "LastUpdateDate >= '2024-05-01T08:30:15.607+00:00'"
    assert join_q(["a = 1", None, "b = 2"], "4") == "(a = 1) and (b = 2)"
    assert join_q(["a=1", "b=2"], "1") == "a=1;b=2"
    assert join_q([None], "4") is None
    assert fields_param(["A", "B"], {"names": ["C"], "x.y": ["D", "E"]}) == "A,B;names:C;x.y:D,E"
    assert keyset_q("LastUpdateDate", "PersonNumber", False, Keyset("2024-01-01T00:00:00+00:00", "O'B")) == (
        "(LastUpdateDate > '2024-01-01T00:00:00+00:00' or (LastUpdateDate = '2024-01-01T00:00:00+00:00' and "
        "PersonNumber > 'O''B') or LastUpdateDate is null)"
    )
    assert keyset_q("LastUpdateDate", "PersonId", True, Keyset(None, 5)) == "(LastUpdateDate is null and PersonId > 5)"


def test_simple_dialect_pushes_what_v1_can_say() -> None:
    mapping = mapping_for_stream("oracle_hcm", "workers")
    assert mapping is not None
    simple, advanced = OracleRESTSimple(mapping, {}), OracleREST(mapping, {})
    both = And((Compare("PersonNumber", "=", "O'Brien"), Compare("HireDate", ">=", "2024-01-01")))
    assert simple.compile(both) == "PersonNumber='O''Brien';HireDate>='2024-01-01'"
    assert simple.compile(In("PersonNumber", ("E1",))) == "PersonNumber='E1'"
    for unsayable in (In("PersonNumber", ("E1", "E2")), Or((Compare("A", "=", 1), Compare("B", "=", 2))),
                      Compare("A", "=", None), Compare("A", "!=", "x")):  # fmt: skip
        assert not simple.pushable(unsayable)
        assert advanced.pushable(unsayable)


def test_collection_page_refuses_what_is_not_a_collection() -> None:
    assert collection_page({"items": [], "hasMore": False}) == ([], False)
    with pytest.raises(ValueError, match="no 'items' list"):
        collection_page({"Resources": {}})
    with pytest.raises(ValueError, match="non-boolean"):
        collection_page({"items": [], "hasMore": "yes"})


def _response(body: str, content_type: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body.encode()
    response.headers["Content-Type"] = content_type
    return response


def test_classifier_reads_errors_inside_a_200() -> None:
    classifier = FusionClassifier()
    assert classifier.error_in_body(_response('{"items": [], "hasMore": false}', "application/json")) is None
    assert classifier.error_in_body(_response('{"Resources": {}}', "application/json")) is None
    item = '{"PersonId": 1, "title": "Dr", "status": "A"}'  # attributes named like error fields, inside items
    assert classifier.error_in_body(_response(f'{{"items": [{item}]}}', "application/json")) is None
    html = _response("<html><title>Sign In</title></html>", "text/html")
    assert classifier.error_in_body(html) is not None
    error = '{"title": "Bad Request", "status": "400", "o:errorDetails": [{"detail": "x"}]}'
    assert "Bad Request" in str(classifier.error_in_body(_response(error, "application/vnd.oracle.adf.error+json")))


_COLLECTION = '{"items": [{"PersonId": 1, "Amount": 1.5, "status": "A"}], "hasMore": false, "totalResults": 1}'
_BODIES = [
    _COLLECTION,
    '{"status": "error", "items": []}',  # an error status at the top: fatal
    '{"items": [1, NaN], "hasMore": false}',  # msgspec refuses NaN; json.loads reads it
    '{"items": ["\\ud800"], "hasMore": false}',  # a lone surrogate escape
    "[1, 2]",
    '"text"',
    '{"title": "Bad Request", "status": "400", "o:errorDetails": []}',
    "",
    "<html>Sign In</html>",
]


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(st.sampled_from(_BODIES), st.sampled_from(_BODIES).flatmap(lambda b: st.just(b[: len(b) // 2]))),
    cut=st.integers(0, 200),
    raw=st.binary(max_size=8),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/vnd.oracle.adf.resourcecollection+json",
            "text/html",
            "application/json; charset=utf-8",
        ]
    ),
)
def test_classifier_verdicts_are_those_of_the_base_rules(text: str, cut: int, raw: bytes, content_type: str) -> None:
    """Parsing the whole body with Fusion's parse and keeping it gives the verdict the base rules' probes give without
    it, for whole, cut, odd and non-JSON bodies (each classifier on a fresh response); and the body the stream then
    reads is the kit's plain parse of it (``UNPARSABLE`` where that refuses it)."""
    content = text.encode()[:cut] + (raw if cut % 7 == 0 else b"")

    class Probing(FusionClassifier):
        parse_body = ResponseClassifier.parse_body

    verdicts = []
    for classifier in (FusionClassifier(), Probing()):
        response = _response("", content_type)
        response._content = content
        verdicts.append(classifier.classify(response))
    assert verdicts[0] == verdicts[1]
    response = _response("", content_type)
    response._content = content
    FusionClassifier().classify(response)
    fresh = _response("", content_type)
    fresh._content = content
    plain = classify.parsed_json(fresh)
    read = body(response)
    if plain is classify._UNPARSABLE:
        assert read is UNPARSABLE
    else:
        assert _same(read, plain)


def _same(a: object, b: object) -> bool:
    """Equal and of the same types all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(t.cast("dict[str, object]", b)) and all(
            _same(v, t.cast("dict[str, object]", b)[k]) for k, v in a.items()
        )
    if isinstance(a, list):
        return len(a) == len(t.cast("list[object]", b)) and all(map(_same, a, t.cast("list[object]", b)))
    return a == b or (a != a and b != b)


def test_a_collection_page_is_parsed_once_and_never_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The classifier's first question parses the page and keeps it; its status and member checks, the page reader
    and the paginator read that one parse: no second parse, no probe of the body."""
    reads = spy_body_reads(monkeypatch)
    response = _response(_COLLECTION, "application/json")
    assert FusionClassifier().classify(response) == "ok"
    assert classify.kept_body(response) == {
        "items": [{"PersonId": 1, "Amount": 1.5, "status": "A"}],
        "hasMore": False,
        "totalResults": 1,
    }
    assert collection_page(body(response)) == ([{"PersonId": 1, "Amount": 1.5, "status": "A"}], False)
    paginator = HasMorePaginator(500)
    assert (paginator.has_more(response), paginator.get_next(response), paginator.page_count(response)) == (
        False,
        1,
        1,
    )
    assert body(response) is classify.kept_body(response)
    assert "_xlr8_json" not in response.__dict__  # one parse kept, not two
    assert reads.counts() == [1]


POD_ASSIGNMENTS = ["AssignmentId", "EffectiveStartDate", "EffectiveEndDate", "EffectiveSequence",
                   "EffectiveLatestChange"]  # fmt: skip


def _pod_describe() -> dict[str, t.Any]:
    """``DESCRIBE`` with the keys Oracle documents: assignments' five-part key, ``jobs`` keyed with its dates."""
    import copy

    doc = copy.deepcopy(DESCRIBE)
    assignments = doc["Resources"]["workers"]["children"]["workRelationships"]["children"]["assignments"]
    assignments["attributes"] += [{"name": "EffectiveSequence", "type": "integer"},
                                  {"name": "EffectiveLatestChange"}]  # fmt: skip
    assignments["collection"]["finders"][0]["attributes"] = [{"name": n} for n in POD_ASSIGNMENTS]
    doc["Resources"]["jobs"] = {
        "attributes": [{"name": "EffectiveStartDate", "type": "date"}, {"name": "JobId", "type": "integer"},
                       {"name": "EffectiveEndDate", "type": "date"}, {"name": "LastUpdateDate", "type": "datetime"}],
        "collection": {"finders": [{"name": "PrimaryKey", "attributes": [
            {"name": "EffectiveStartDate"}, {"name": "JobId"}, {"name": "EffectiveEndDate"}]}]},
    }  # fmt: skip
    return doc


def test_effective_dated_keys_land_without_mutable_dates_and_replace_by_the_logical_id() -> None:
    """audit25a F1: read as of one date, a superseded version is never read again; the logical id (a leading part
    of the key) lets the run's version replace it. ``EffectiveEndDate`` and ``EffectiveLatestChange`` change as a
    version is superseded: never in the landed key."""
    doc = _pod_describe()
    workers = parse_describe(doc, "workers")
    _, assignments = plan_streams(workers, ResourceDeclaration(children=("workRelationships.assignments",)), "streams")
    assert assignments.primary_keys == (
        "PersonId", "PeriodOfServiceId", "AssignmentId", "EffectiveStartDate", "EffectiveSequence"
    )  # fmt: skip
    assert assignments.replace_by == assignments.primary_keys[: len(assignments.replace_by)]
    assert set(assignments.replace_by) <= {"PersonId", "PeriodOfServiceId", "AssignmentId"}
    assert assignments.replace_by[:1] == ("PersonId",)
    assert set(assignments.schema["properties"]) >= set(POD_ASSIGNMENTS)  # still read, as attributes
    (jobs,) = plan_streams(parse_describe(doc, "jobs"), None, "streams")
    assert jobs.primary_keys == ("JobId", "EffectiveStartDate")
    assert jobs.replace_by == ("JobId",)
    (workers_plan,) = plan_streams(workers, None, "streams")
    assert workers_plan.replace_by == ()  # not effective-dated: its key is the logical id already


def test_child_streams_replace_by_their_top_level_parent_only_where_a_cut_child_shows() -> None:
    """audit25a F7: each run reads every parent's children whole (framework 3+ marks a cut child, read whole from its
    own URL), so the parent's logical id names a set a deleted child drops out of. Frameworks 1 and 2 send bare
    arrays: only an effective-dated child's versions replace each other there (F1)."""
    workers = parse_describe(_pod_describe(), "workers")
    declaration = ResourceDeclaration(children=("emails", "workRelationships.assignments"))
    _, emails, assignments = plan_streams(workers, declaration, "streams")
    assert emails.replace_by == assignments.replace_by == ("PersonId",)
    _, emails, assignments = plan_streams(workers, declaration, "streams", cuts_seen=False)
    assert emails.replace_by == ()
    assert assignments.replace_by == ("PersonId", "PeriodOfServiceId", "AssignmentId")


def test_keyset_bounds_over_a_composite_key_compare_attribute_after_attribute() -> None:
    """audit25a F9: a composite key pages by keyset too; one attribute renders as before."""
    from xlr8_kit.oracle.protocol import upto_q

    at = Keyset("2026-01-01T08:01:00+00:00", (101, "A"))
    moment = "'2026-01-01T08:01:00+00:00'"
    assert keyset_q("LastUpdateDate", ("GlId", "Code"), [True, False], at) == (
        f"(LastUpdateDate > {moment} or (LastUpdateDate = {moment} and (GlId > 101 or (GlId = 101 and "
        "Code > 'A'))) or LastUpdateDate is null)"
    )
    assert upto_q("LastUpdateDate", ("GlId", "Code"), [True, False], at) == (
        f"(LastUpdateDate < {moment} or (LastUpdateDate = {moment} and (GlId < 101 or (GlId = 101 and Code <= 'A'))))"
    )
    assert keyset_q("LastUpdateDate", ("GlId", "Line"), True, Keyset(None, (1, 2))) == (
        "(LastUpdateDate is null and (GlId > 1 or (GlId = 1 and Line > 2)))"
    )
    assert keyset_q("LastUpdateDate", "GlId", True, Keyset("x", 5)) == (
        "(LastUpdateDate > 'x' or (LastUpdateDate = 'x' and GlId > 5) or LastUpdateDate is null)"
    )
