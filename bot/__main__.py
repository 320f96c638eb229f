"""`python -m bot` runs the same CLI as the `mailbot` script."""

from bot.cli import main

raise SystemExit(main())
