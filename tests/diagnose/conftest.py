"""Lets the diagnose tests share test_journal's message builders (the suite imports in importlib mode)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
