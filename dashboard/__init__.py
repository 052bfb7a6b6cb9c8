"""Streamlit dashboard over the sandbox (see issue: dashboard)."""
