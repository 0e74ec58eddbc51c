"""The engine: plans a send, runs its workers and sessions, and echoes.

The top layer of the core. It may use every layer below it (record, dicom,
net, config, scan, model, base); nothing in the core imports it.
"""
