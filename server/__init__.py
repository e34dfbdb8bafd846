"""The HTTP service (FastAPI on uvicorn): ``ocr serve``; see :mod:`server.app`."""
