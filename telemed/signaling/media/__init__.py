"""The server's own media: the aiortc/PyAV recorder and its mixer, the recording file, the
process CPU gauge and the registry of server peers. A leaf: it imports no domain package."""
