"""`python -m cards.templates [--check]`: rewrite (or only compare) the template files."""

from cards.templates.build import main

raise SystemExit(main())
