"""Detection assist: near-duplicate prompt clusters, heuristic suggestions, group context and
group labels, and how good the suggestions are.

- ``clustering.update_clusters(db, project_id, progress=, cancel=)``: cluster traces not yet
  clustered (incremental); ``biggest_clusters``; ``cluster_prompts`` (no database).
- ``suggest.run_detection(db, project_id, full=True|False, ...)``: clusters then suggestions
  (``full=False`` after an import: only new traces and the groups they joined);
  ``compute_suggestions``, ``suggestion_for``, ``ordered_trace_ids(by="score"|"uncertainty")``.
- ``groups.group_context(db, trace_id)``, ``add_group_label``, ``group_labels_for_trace``,
  ``apply_group_label`` (derived labels, never a person's), ``derived_labels_for_trace``.
- ``report.detector_report(db, project_id)``: precision, recall, confusion on resolved items.

Everything takes a ``Database`` and returns plain dataclasses; long work reports progress and
honours a ``threading.Event`` to cancel, so the GUI runs it on a worker thread."""
