"""Kafka: the relay's producer and a consumer pattern. Imported only when Kafka is configured."""
