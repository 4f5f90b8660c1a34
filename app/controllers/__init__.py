"""HTTP controllers, one per resource of API.md."""
