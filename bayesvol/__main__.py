"""``python -m bayesvol``: the same as the ``bayesvol`` command."""

from bayesvol.app.cli import main

raise SystemExit(main())
