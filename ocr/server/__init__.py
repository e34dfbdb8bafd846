"""The HTTP service (FastAPI on uvicorn): ``ocr serve``; see :mod:`ocr.server.app`."""
