"""The trace view widget: one trace rendered safely, with evidence spans and find.

See view.py for the widget, render.py for the document and its position map, markdown.py for safe
markdown, textmap.py for escaping and offset maps.
"""

from annotator.gui.trace_view.view import SafeBrowser, TraceView

__all__ = ["SafeBrowser", "TraceView"]
