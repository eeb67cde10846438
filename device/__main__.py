"""`python -m device` is the `swivel` command."""
import sys

from .cli import main

sys.exit(main())
