"""AWS adapters: S3 artifacts, S3 market data (through a local cache), the SQS job queue.

Every module here but `s3_url` imports boto3: they are imported only when an s3:// URL or the
`sqs` executor is configured. Clients take the SDK's standard configuration (AWS_ENDPOINT_URL,
AWS_REGION or AWS_DEFAULT_REGION, the credentials chain), so the same build runs against AWS or
moto.
"""
