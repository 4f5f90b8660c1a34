"""The AWS stand-ins the suite starts itself answer the calls later issues rely on: DynamoDB on
moto server and on Amazon's DynamoDB Local; SQS and S3 on moto server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import (
    DynamoDBEndpoint,
    DynamoDBLocal,
    MotoServer,
    aws_env,
    boto3_client,
    running_moto,
)

pytestmark = pytest.mark.aws


def _create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "created", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "created", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )


def _job(job_id: str, status: str, created: str, version: int) -> dict[str, dict[str, str]]:
    return {
        "pk": {"S": f"JOB#{job_id}"},
        "sk": {"S": "JOB"},
        "status": {"S": status},
        "created": {"S": created},
        "version": {"N": str(version)},
    }


def test_dynamodb_table_gsi_conditional_writes_and_transactions(
    dynamodb_endpoint: DynamoDBEndpoint,
) -> None:
    client = dynamodb_endpoint.client()
    table = dynamodb_endpoint.table
    _create_table(client, table)

    client.put_item(TableName=table, Item=_job("a", "submitted", "2026-01-01T00:00:01", 1))
    got = client.get_item(TableName=table, Key={"pk": {"S": "JOB#a"}, "sk": {"S": "JOB"}})
    assert got["Item"]["status"] == {"S": "submitted"}

    # A projector's write: only when the stored version is older than the event's.
    newer = "attribute_not_exists(pk) OR version < :v"
    client.put_item(
        TableName=table, Item=_job("a", "running", "2026-01-01T00:00:01", 2),
        ConditionExpression=newer, ExpressionAttributeValues={":v": {"N": "2"}},
    )  # fmt: skip
    with pytest.raises(ClientError) as repeated:
        client.put_item(
            TableName=table, Item=_job("a", "submitted", "2026-01-01T00:00:01", 1),
            ConditionExpression=newer, ExpressionAttributeValues={":v": {"N": "1"}},
        )  # fmt: skip
    assert repeated.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=table, Item=_job("a", "running", "2026-01-01T00:00:01", 2),
            ConditionExpression=newer, ExpressionAttributeValues={":v": {"N": "2"}},
        )  # fmt: skip

    # Several items and a position in one transaction; a failed condition writes none of them.
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": _job("b", "running", "2026-01-01T00:00:02", 1)}},
            {"Put": {"TableName": table, "Item": _job("c", "running", "2026-01-01T00:00:03", 1)}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "PROJECTOR"}, "sk": {"S": "POSITION"}},
                    "UpdateExpression": "SET #p = :p",
                    "ConditionExpression": "attribute_not_exists(#p) OR #p < :p",
                    "ExpressionAttributeNames": {"#p": "position"},
                    "ExpressionAttributeValues": {":p": {"N": "3"}},
                }
            },
        ]
    )
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": _job("d", "running", "2026-01-01T04", 1)}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "JOB#a"}, "sk": {"S": "JOB"}},
                        "ConditionExpression": "version < :v",
                        "ExpressionAttributeValues": {":v": {"N": "2"}},
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert "Item" not in client.get_item(
        TableName=table, Key={"pk": {"S": "JOB#d"}, "sk": {"S": "JOB"}}
    )

    # The GSI, newest first (DynamoDB Local and moto both keep GSIs in step at once).
    page = client.query(
        TableName=table, IndexName="by-status", KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "running"}}, ScanIndexForward=False,
    )  # fmt: skip
    assert [item["pk"]["S"] for item in page["Items"]] == ["JOB#c", "JOB#b", "JOB#a"]
    position = client.get_item(
        TableName=table, Key={"pk": {"S": "PROJECTOR"}, "sk": {"S": "POSITION"}},
        ConsistentRead=True,
    )  # fmt: skip
    assert position["Item"]["position"] == {"N": "3"}


def test_sqs_redrive_to_a_dead_letter_queue_and_visibility(moto_server: MotoServer) -> None:
    sqs = boto3_client("sqs", moto_server.endpoint)
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = sqs.create_queue(
        QueueName=name, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "30"}
    )["QueueUrl"]

    sqs.send_message(QueueUrl=url, MessageBody="job-1")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
    (message,) = first["Messages"]
    assert message["Body"] == "job-1"
    # Invisible while held; handed back at once when its visibility is set to 0.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert again["Body"] == "job-1"
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0
    )
    # Received twice (maxReceiveCount): the next receive moves it to the dead-letter queue.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    (dead,) = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0)["Messages"]
    assert dead["Body"] == "job-1"
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead["ReceiptHandle"])

    sqs.send_message(QueueUrl=url, MessageBody="job-2")
    (done,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=done["ReceiptHandle"])
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_s3_put_and_get_an_object(moto_server: MotoServer) -> None:
    s3 = boto3_client("s3", moto_server.endpoint)
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(256 * 1024)
    s3.put_object(Bucket=bucket, Key="runs/a/freqtrade-result.zip", Body=body)
    got = s3.get_object(Bucket=bucket, Key="runs/a/freqtrade-result.zip")
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)


def test_a_server_process_finds_the_standin_through_the_environment(
    moto_server: MotoServer, dynamodb_local: DynamoDBLocal
) -> None:
    """aws_env is all a process needs: boto3 takes endpoint, region and keys from it."""
    script = (
        "import sys, boto3; boto3.client('sqs').create_queue(QueueName=sys.argv[1]);"
        "boto3.client('dynamodb').create_table(TableName=sys.argv[1], BillingMode="
        "'PAY_PER_REQUEST', AttributeDefinitions=[{'AttributeName': 'pk', 'AttributeType': 'S'}],"
        " KeySchema=[{'AttributeName': 'pk', 'KeyType': 'HASH'}])"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for server in (moto_server, dynamodb_local):
        name = f"from-env-{uuid.uuid4().hex[:8]}"
        env = clean | aws_env(server.endpoint)
        if server is dynamodb_local:  # SQS on moto, DynamoDB on DynamoDB Local
            env = (
                clean
                | aws_env(moto_server.endpoint)
                | {"AWS_ENDPOINT_URL_DYNAMODB": server.endpoint}
            )
        subprocess.run(
            [sys.executable, "-c", script, name], env=env, capture_output=True, timeout=60,
            check=True,
        )  # fmt: skip
        dynamodb = boto3_client("dynamodb", server.endpoint)
        assert name in dynamodb.list_tables()["TableNames"]
        dynamodb.delete_table(TableName=name)
        sqs = boto3_client("sqs", moto_server.endpoint)
        assert sqs.get_queue_url(QueueName=name)["QueueUrl"].endswith(f"/{name}")


def test_stopping_ends_the_process_even_when_the_test_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), running_moto(tmp_path) as server:
        process = server.process
        assert process is not None
        raise RuntimeError("boom")
    assert process.returncode is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
