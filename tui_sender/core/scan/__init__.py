"""From folders to a catalog: discovery, header reading, selection.

Reads only what a study tree and a send plan need from each file.
"""
