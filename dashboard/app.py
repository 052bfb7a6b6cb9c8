"""The dashboard's entry script (`rdsbox dashboard` runs ``streamlit run`` on it): page
setup and the ``st.navigation`` router over the page modules in ``dashboard/views/``.

Each page is a module with a ``render()`` function that runs when Streamlit executes the
page file (as ``__main__``), so importing a page has no side effects. The folder is not
called ``pages/``: Streamlit treats a ``pages/`` folder beside the entry script as a legacy
multipage app and, until some session has called ``st.navigation``, runs a deep link such
as ``/metrics`` as that file alone, without this router.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "views"

#: (file, title, icon) in menu order; the first is the default page.
PAGE_LIST = (
    ("architecture.py", "Architecture", ":material/hub:"),
    ("metrics.py", "Metrics", ":material/monitoring:"),
    ("faults.py", "Faults", ":material/bolt:"),
    ("load.py", "Load", ":material/speed:"),
    ("scenarios.py", "Scenarios", ":material/science:"),
    ("simulator.py", "Simulator", ":material/model_training:"),
)


def main() -> None:
    """Configure the page, show which sandbox this is, run the selected page."""
    from dashboard.handles import handles

    st.set_page_config(page_title="rdsbox", page_icon=":material/database:", layout="wide")
    pages = [
        st.Page(PAGES / file, title=title, icon=icon, default=index == 0)
        for index, (file, title, icon) in enumerate(PAGE_LIST)
    ]
    selected = st.navigation(pages)
    st.sidebar.caption(f"sandbox: `{handles().state.root}`")
    selected.run()


if __name__ == "__main__":
    main()
