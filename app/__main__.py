"""``python -m app`` runs the same command line as ``launcher.py``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from launcher import main  # noqa: E402

sys.exit(main())
