"""Janus, the SFU of calls past two participants: a small async client for its HTTP API
(``client.py`` over ``transport.py``), several instances (``pool.py``), and the
configuration Telemed generates for it (``config.py``)."""
