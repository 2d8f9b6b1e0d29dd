import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# Runtime checks of the modules' invariants (simulator/debug.py) in every test, and in
# every pevmsim subprocess a test starts.
os.environ["PEVMSIM_DEBUG"] = "1"
