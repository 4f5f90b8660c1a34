"""The command side: command messages, their handlers, and the event-store application."""
