"""Generators of sample studies: real pixel data, documents, odd files."""
