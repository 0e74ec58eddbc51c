"""What a session leaves behind: journal, session log, summary, exports.

Also the stored index (what each destination already confirmed) and resume,
which reads a journal back into what is left to send.
"""
