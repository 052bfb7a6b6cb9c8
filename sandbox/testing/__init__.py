"""rdsbox for test suites: the pytest plugin (``sandbox.testing.plugin``, loaded through
the ``pytest11`` entry point) and the sandbox handle its fixtures share."""
