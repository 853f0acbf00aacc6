"""The team lead's screens: dashboard, adjudication (review), assignment and members.

Nothing here is imported at start-up: the main window imports a module when its Lead menu entry
is used (the dashboard pulls in pyqtgraph, about a second of import time)."""
