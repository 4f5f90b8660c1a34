"""The job queue on SQS (boto3): send, long-poll, delete, and visibility changes.

Imported only when the `sqs` executor or `tradai worker` is configured. The client takes the
SDK's standard configuration (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_SQS, the region, the
credentials chain), so the same code runs against AWS and moto.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import msgspec
from botocore.config import Config

from projections.execution_ports import JobMessage, QueueMessage

_DECODE = msgspec.json.Decoder(JobMessage)
_MAX_VISIBILITY = 12 * 60 * 60  # SQS refuses a visibility timeout over 12 hours


class SqsJobQueue:
    """One SQS queue of job messages (standard or FIFO)."""

    def __init__(self, url: str, client: Any | None = None) -> None:
        if not url:
            raise ValueError("an SQS queue URL is required")
        self.url = url
        self._client = client
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQS queue {self.url}"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                # A session of its own (the default session is not thread-safe); long polls
                # wait up to 20 s, so reads may take longer than that before timing out.
                config = Config(read_timeout=30, retries={"mode": "standard", "max_attempts": 5})
                self._client = boto3.session.Session().client("sqs", config=config)
            return self._client

    @property
    def fifo(self) -> bool:
        return self.url.endswith(".fifo")

    def send(self, message: JobMessage) -> str:
        extra: dict[str, str] = {}
        if self.fifo:  # one group per job: jobs run in parallel; a resend is deduplicated
            extra = {
                "MessageGroupId": str(message.job_id),
                "MessageDeduplicationId": f"{message.job_id}-{message.attempt}",
            }
        answer = self.client.send_message(
            QueueUrl=self.url, MessageBody=msgspec.json.encode(message).decode(), **extra
        )
        return str(answer["MessageId"])

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        answer = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=max(0, min(wait_seconds, 20)),
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [_message(raw) for raw in answer.get("Messages", [])]

    def delete(self, receipt: str) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)

    def hide(self, receipt: str, seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.url,
            ReceiptHandle=receipt,
            VisibilityTimeout=max(0, min(int(seconds), _MAX_VISIBILITY)),
        )

    def attributes(self) -> dict[str, str]:
        answer = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])
        return dict(answer.get("Attributes", {}))

    def visibility_timeout(self) -> int:
        """The queue's visibility timeout in seconds: how long a received message stays
        hidden without a heartbeat."""
        return int(self.attributes().get("VisibilityTimeout", "30"))

    def max_receives(self) -> int | None:
        """The redrive policy's `maxReceiveCount`: receives before a message is dead-lettered
        (None when the queue has no dead-letter queue)."""
        policy = self.attributes().get("RedrivePolicy")
        if not policy:
            return None
        return int(json.loads(policy)["maxReceiveCount"])

    def depth(self) -> tuple[int, int]:
        """Messages waiting, and messages received but not settled (approximate)."""
        attributes = self.attributes()
        return (
            int(attributes.get("ApproximateNumberOfMessages", "0")),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        )


def _message(raw: dict[str, Any]) -> QueueMessage:
    try:
        job: JobMessage | None = _DECODE.decode(raw.get("Body", ""))
    except (msgspec.DecodeError, msgspec.ValidationError):
        job = None  # not ours: the caller deletes it rather than choke on it forever
    return QueueMessage(
        message_id=str(raw["MessageId"]),
        receipt=str(raw["ReceiptHandle"]),
        job=job,
        receives=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
    )
