"""Entry script of the frozen app: the `annotator` command (no subcommand opens the GUI)."""

import multiprocessing

from annotator.cli import gui_main, main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    import os
    import sys

    # The windowed launcher on Windows/macOS (trace-annotator) always opens the GUI.
    if os.path.splitext(os.path.basename(sys.executable))[0].lower() == "trace-annotator":
        gui_main()
    else:
        main()
