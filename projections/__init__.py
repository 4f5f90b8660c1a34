"""The read side: projectors that turn the event stream into read models, and their runners."""
