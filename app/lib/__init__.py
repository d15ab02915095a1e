"""What every page shares, one job a module: cached reads (data), the run picker (picker), charts with their
downloads (charts), and the texts several pages show (help).

Importing `lib` puts the project root on sys.path, so `streamlit run app/streamlit_app.py` finds `lth` from
any working folder; Streamlit itself puts app/ there, so pages say `from lib import data`.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
