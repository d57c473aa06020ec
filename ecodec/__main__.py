"""Allow ``python -m ecodec``."""

from ecodec.cli import main

raise SystemExit(main())
