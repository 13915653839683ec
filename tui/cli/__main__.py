"""`python -m tui.cli`: the same as the `lstm-tui` command."""

from tui.cli.main import main

raise SystemExit(main())
