"""`tradai worker`: runs backtests from the SQS queue on any machine and reports to the API."""
