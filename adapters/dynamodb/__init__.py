"""DynamoDB read model (boto3). Imported only when BACKEND_DYNAMODB_TABLE is set."""
