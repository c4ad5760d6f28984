"""`python -m pushforward` (also what `torchrun -m pushforward` runs)."""

from pushforward.cli import main

raise SystemExit(main())
