"""``python -m tui``: the same command line as the ``muxlab`` script."""

from tui.cli import main

raise SystemExit(main())
