"""DICOMweb: STOW-RS sending, QIDO-RS queries, over HTTP (httpx)."""
