"""``python -m pel_hpc`` is the ``pel-hpc`` command."""
from pel_hpc.cli import main

raise SystemExit(main())
