"""fleet import's one document per policy: the same text where places agree,
{{account_id}} and {{region}} where they differ only by those, nothing where
they really differ; and what comes out gives back AWS's document in each
place when fleet fills it in."""

from __future__ import annotations

import json

from fleet.importing.templating import Where, template
from fleet.manifest.desired import AccountSpec
from fleet.manifest.device_rules import substitute

PROD_EAST = Where("111111111111", "us-east-1", "prod")
PROD_WEST = Where("111111111111", "eu-west-1", "prod")
STAGING_EAST = Where("222222222222", "us-east-1", "staging")


def telemetry(where: Where, topic: str = "telemetry") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["iot:Publish", "iot:Receive"],
                    "Resource": f"arn:aws:iot:{where.region}:{where.account_id}:topic/{topic}/${{iot:ClientId}}",
                }
            ],
        }
    )


def filled(text: str, where: Where) -> object:
    return json.loads(substitute(text, AccountSpec(where.account, where.account_id, "", (where.region,)), where.region))


def test_documents_that_differ_by_account_id_and_region_become_one_with_placeholders() -> None:
    documents = {where: telemetry(where) for where in (PROD_EAST, PROD_WEST, STAGING_EAST)}
    made = template(documents)
    assert made.templated and made.text is not None
    assert '"Resource": "arn:aws:iot:{{region}}:{{account_id}}:topic/telemetry/${iot:ClientId}"' in made.text
    for where, document in documents.items():
        assert filled(made.text, where) == json.loads(document)  # what `pulumi up` compares with AWS's


def test_documents_alike_everywhere_are_kept_as_they_are_with_their_key_order() -> None:
    document = '{"Version": "2012-10-17", "Statement": [{"Resource": "*", "Action": "iot:Connect", "Effect": "Allow"}]}'
    made = template({PROD_EAST: document, STAGING_EAST: document})
    assert not made.templated
    assert made.text == json.dumps(json.loads(document), indent=2) + "\n"
    assert made.text.index('"Resource"') < made.text.index('"Effect"')  # AWS's order, for the reviewer


def test_one_place_is_kept_as_it_is_account_id_and_all() -> None:
    made = template({PROD_EAST: telemetry(PROD_EAST)})
    assert not made.templated and made.text is not None and "111111111111" in made.text


def test_documents_that_really_differ_give_no_document_and_say_where() -> None:
    made = template({PROD_EAST: telemetry(PROD_EAST), STAGING_EAST: telemetry(STAGING_EAST, topic="debug")})
    assert made.text is None
    assert (
        made.why == "its documents in prod/us-east-1 and staging/us-east-1 differ beyond the account id and the region"
    )


def test_an_account_id_inside_a_longer_number_is_not_a_placeholder() -> None:
    def document(where: Where) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iot:Publish",
                        "Resource": f"arn:aws:iot:{where.region}:{where.account_id}:topic/{where.account_id}0/x",
                    }
                ],
            }
        )

    made = template({PROD_EAST: document(PROD_EAST), STAGING_EAST: document(STAGING_EAST)})
    assert made.text is None  # 1111111111110 vs 2222222222220: a real difference


def test_a_document_with_text_fleet_would_fill_in_is_refused() -> None:
    literal = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/{{region}}/x"}
            ],
        }
    )
    made = template({PROD_EAST: literal})
    assert made.text is None and "fleet would fill in" in made.why
    unknown = literal.replace("{{region}}", "{{site}}")
    assert template({PROD_EAST: unknown}).why == (
        "its document in prod/us-east-1 holds {{site}}, which fleet would read as a placeholder"
    )


def test_a_document_that_is_not_json_gives_no_document() -> None:
    assert template({PROD_EAST: "{not json"}).why == "its document in prod/us-east-1 is not JSON"
